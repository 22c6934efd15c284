package dev.wudi.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A merged adapter's target_modules select exactly the modules it holds, by PEFT's rule: the inputs' names where
 * they fit, full paths for what they would over-select.
 */
class TargetModulesTest {

    @TempDir
    Path tmp;

    private static final Set<String> MODULES = Set.of("transformer", "transformer.h", "transformer.h.0",
            "transformer.h.0.attn", "transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp",
            "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj", "transformer.h.1", "transformer.h.1.attn",
            "transformer.h.1.attn.c_attn", "transformer.h.1.attn.c_proj", "transformer.h.1.mlp",
            "transformer.h.1.mlp.c_fc", "transformer.h.1.mlp.c_proj");

    private AdapterConfig config(String name, String targets) throws Exception {
        Path f = tmp.resolve(name + ".json");
        Files.writeString(f, "{\"peft_type\": \"LORA\", \"target_modules\": " + targets + "}");
        return AdapterConfig.read(f);
    }

    @Test
    void theInputsNamesWhereTheySelectExactlyWhatIsWritten() throws Exception {
        List<String> written = List.of("transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn",
                "transformer.h.0.mlp.c_proj");
        List<AdapterConfig> inputs = List.of(config("a", "[\"c_attn\"]"), config("b", "[\"c_attn\", \"c_proj\"]"));
        // c_proj would also select both attn.c_proj and layer 1's mlp.c_proj: the one written is named by its path
        assertEquals(List.of("c_attn", "transformer.h.0.mlp.c_proj"), TargetModules.of(written, MODULES, inputs));
        assertEquals(List.of("c_attn", "c_proj"), TargetModules.of(List.of("transformer.h.0.attn.c_attn",
                "transformer.h.1.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.1.attn.c_proj",
                "transformer.h.0.mlp.c_proj", "transformer.h.1.mlp.c_proj"), MODULES, inputs));
    }

    @Test
    void aRegexOrAnUnknownNameFallsBackToPaths() throws Exception {
        List<String> written = List.of("transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn");
        assertEquals(written, TargetModules.of(written, MODULES, List.of(config("r", "\".*c_attn\""))));
        assertEquals(written, TargetModules.of(written, MODULES, List.of(config("x", "[\"q_proj\"]"))));
    }
}
