package dev.wudi.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.checkpoint.CheckpointException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * adapter_config.json read with PEFT's types (a wrong type is refused, never read as the default; null is the
 * default), and which modules it targets, as PEFT's check_target_module_exists decides: a list entry matches a key
 * equal to it or ending in "." + it; a string is a regex the whole key must match; layers_to_transform keeps the
 * first layer index of the key; exclude_modules and modules_to_save take keys out.
 */
class AdapterConfigTest {

    @TempDir
    Path tmp;

    private AdapterConfig config(String json) throws Exception {
        Path f = tmp.resolve("adapter_config.json");
        Files.writeString(f, "{\"peft_type\": \"LORA\", " + json + "}");
        return AdapterConfig.read(f);
    }

    private String refusal(String json) {
        return assertThrows(CheckpointException.class, () -> config(json)).getMessage();
    }

    @Test
    void wrongTypesAreRefusedNotReadAsDefaults() throws Exception {
        assertTrue(refusal("\"lora_alpha\": \"sixteen\"").contains("lora_alpha is \"sixteen\", but PEFT reads it as a"
                + " number"), refusal("\"lora_alpha\": \"sixteen\""));
        assertTrue(refusal("\"use_rslora\": \"yes\"").contains("use_rslora is \"yes\", but PEFT reads it as true or"
                + " false"));
        assertTrue(refusal("\"r\": \"four\"").contains("r is \"four\", but PEFT reads it as an integer rank"));
        assertTrue(refusal("\"r\": 4.5").contains("r is 4.5, but PEFT reads it as an integer rank"));
        assertTrue(refusal("\"fan_in_fan_out\": \"true\"").contains("fan_in_fan_out is \"true\""));
        assertTrue(refusal("\"target_modules\": 5").contains("target_modules is 5, but PEFT reads it as a list of"
                + " strings"));
        assertTrue(refusal("\"target_modules\": [\"q\", 1]").contains("a list of strings"));
        assertTrue(refusal("\"rank_pattern\": [4]").contains("rank_pattern is [4]"));
        assertTrue(refusal("\"alpha_pattern\": {\"q\": \"a\"}").contains("alpha_pattern 'q' is \"a\""));
        assertTrue(refusal("\"layers_to_transform\": \"0\"").contains("layers_to_transform is \"0\""));
        assertTrue(refusal("\"use_dora\": 1").contains("use_dora is 1"));
        AdapterConfig nulls = config("\"r\": null, \"lora_alpha\": null, \"use_rslora\": null, \"rank_pattern\": null,"
                + " \"target_modules\": null");
        assertEquals(8, nulls.r());
        assertEquals(8.0, nulls.loraAlpha());
        assertFalse(nulls.useRslora());
    }

    @Test
    void rankAndAlphaArePositiveAndFinite() {
        for (String bad : new String[] {"\"r\": 0", "\"r\": -2", "\"r\": 99999999999"}) {
            assertTrue(refusal(bad).contains("r "), bad);
        }
        for (String bad : new String[] {"\"lora_alpha\": 0", "\"lora_alpha\": -16", "\"lora_alpha\": 1e39",
            "\"alpha_pattern\": {\"q\": 0}", "\"rank_pattern\": {\"q\": 0}"}) {
            String m = refusal(bad);
            assertTrue(m.contains("not a positive"), bad + ": " + m);
        }
    }

    @Test
    void targetModulesMatchAsPeftMatchesThem() throws Exception {
        AdapterConfig list = config("\"target_modules\": [\"c_attn\", \"attn.q_lin\"]");
        assertTrue(list.targets("transformer.h.0.attn.c_attn"), "a suffix at a dot");
        assertTrue(list.targets("c_attn"), "the key itself");
        assertTrue(list.targets("distilbert.transformer.layer.0.attention.attn.q_lin"));
        assertFalse(list.targets("transformer.h.0.attn.xc_attn"), "not a suffix at a dot");
        assertFalse(list.targets("transformer.h.0.mlp.c_fc"));
        AdapterConfig layer0 = config("\"target_modules\": [\"h.0.attn.c_attn\"]");
        assertTrue(layer0.targets("transformer.h.0.attn.c_attn"));
        assertFalse(layer0.targets("transformer.h.10.attn.c_attn"), "a list entry is a name, not a regex");
        AdapterConfig regex = config("\"target_modules\": \".*\\\\.h\\\\.[01]\\\\.attn\\\\.c_attn\"");
        assertTrue(regex.targets("transformer.h.1.attn.c_attn"));
        assertFalse(regex.targets("transformer.h.2.attn.c_attn"));
        assertFalse(config("\"target_modules\": \"c_attn\"").targets("transformer.h.0.attn.c_attn"),
                "a string is matched against the whole key");
        assertTrue(config("\"target_modules\": \"ALL-LINEAR\"").targets("transformer.h.0.mlp.c_fc"));
        assertTrue(config("\"r\": 4").targets("anything.at.all"), "no target_modules: PEFT's defaults, not known here");
    }

    @Test
    void layersExcludesAndSavedModulesNarrowTheTargets() throws Exception {
        AdapterConfig layers = config("\"target_modules\": [\"c_attn\"], \"layers_to_transform\": [1]");
        assertTrue(layers.targets("transformer.h.1.attn.c_attn"));
        assertFalse(layers.targets("transformer.h.0.attn.c_attn"));
        AdapterConfig pattern = config("\"target_modules\": [\"q_proj\"], \"layers_to_transform\": 2,"
                + " \"layers_pattern\": \"layers\"");
        assertTrue(pattern.targets("model.layers.2.self_attn.q_proj"));
        assertFalse(pattern.targets("model.layers.3.self_attn.q_proj"));
        assertFalse(pattern.targets("model.blocks.2.self_attn.q_proj"), "no index after the pattern");
        AdapterConfig excluded = config("\"target_modules\": [\"c_attn\"], \"exclude_modules\": [\"h.0.attn.c_attn\"]");
        assertFalse(excluded.targets("transformer.h.0.attn.c_attn"));
        assertTrue(excluded.targets("transformer.h.1.attn.c_attn"));
        AdapterConfig excludedRegex = config("\"target_modules\": [\"c_attn\"], \"exclude_modules\": \".*h\\\\.1\\\\..*\"");
        assertFalse(excludedRegex.targets("transformer.h.1.attn.c_attn"));
        AdapterConfig saved = config("\"target_modules\": [\"dense\"], \"modules_to_save\": [\"classifier\"]");
        assertFalse(saved.targets("classifier.dense"), "under a module PEFT trains in full");
        assertTrue(saved.targets("bert.pooler.dense"));
        assertTrue(refusal("\"target_modules\": \".*c_attn\", \"layers_to_transform\": [0]").contains("PEFT refuses"));
    }
}
