package dev.wudi.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Parameter values as mergekit's evaluate_setting reads them (gradients over n evenly spaced anchors, the first
 * matching {filter, value}, fall-through to the top level), the gradient position of a tensor, and lines in errors.
 */
class ParamSettingTest {

    @TempDir
    Path tmp;

    private LocatedYaml yaml(String text) throws Exception {
        Path f = tmp.resolve("c.yml");
        Files.writeString(f, text);
        return LocatedYaml.read(f);
    }

    @Test
    void gradientsInterpolateBetweenEvenlySpacedAnchors() throws Exception {
        ParamSetting g = ParamSetting.parse(yaml("d: [1, 0.7, 0.1]\n"), "/d", "d");
        assertEquals(1.0, g.evaluate("x", 0), 1e-15);
        assertEquals(0.85, g.evaluate("x", 0.25), 1e-15);       // halfway between anchors 0 and 1
        assertEquals(0.7, g.evaluate("x", 0.5), 1e-15);
        assertEquals(0.4, g.evaluate("x", 0.75), 1e-15);
        assertEquals(0.1, g.evaluate("x", 1), 1e-15);
        assertEquals(0.5, ParamSetting.parse(yaml("b: true\nd: [0.5]\n"), "/d", "d").evaluate("x", 0.3), 0);
        assertEquals(1.0, ParamSetting.parse(yaml("b: true\n"), "/b", "b").evaluate("x", 0), 0, "true is 1");
    }

    @Test
    void theFirstMatchingFilterWinsAndNoMatchFallsThrough() throws Exception {
        LocatedYaml doc = yaml("w:\n  - filter: mlp\n    value: 0.5\n  - filter: self_attn\n    value: [0, 1]\n");
        ParamSetting w = ParamSetting.parse(doc, "/w", "w");
        assertEquals(0.5, w.evaluate("model.layers.0.mlp.up_proj.weight", 0.3), 0);
        assertEquals(0.3, w.evaluate("model.layers.0.self_attn.q_proj.weight", 0.3), 1e-15);
        assertNull(w.evaluate("model.embed_tokens.weight", 0), "no condition matches: falls through");
        ConfigParameters p = new ConfigParameters(Map.of("w", new ParamSetting.Scalar(2)), List.of(Map.of("w", w)),
                5, 0);
        assertEquals(2.0, p.forTensor("model.embed_tokens.weight").model(0, "w"), 0, "to the top level");
        assertEquals(0.5, p.forTensor("model.layers.1.mlp.up_proj.weight").model(0, "w"), 0);
    }

    @Test
    void gradientPositionIsTheLayerOverLayersMinusOne() {
        ConfigParameters p = new ConfigParameters(Map.of(), List.of(), 5, 0);
        assertEquals(0.75, p.position("model.layers.3.mlp.down_proj.weight"), 0);
        assertEquals(0.0, p.position("model.embed_tokens.weight"), 0, "outside the layers: t = 0");
        assertEquals(1.0, p.position("transformer.h.4.attn.c_attn.weight"), 0);
        assertEquals(1.0, new ConfigParameters(Map.of(), List.of(), 1, 0).position("h.0.x"), 0,
                "one layer: t = 1");
    }

    @Test
    void mistakesNameTheLine() throws Exception {
        ConfigException e = assertThrows(ConfigException.class, () -> ParamSetting.parse(
                yaml("a: 1\nw:\n  - filter: mlp\n    valeu: 3\n"), "/w", "w"));
        assertTrue(e.getMessage().contains("c.yml:3"), e.getMessage());
        ConfigException dup = assertThrows(ConfigException.class, () -> yaml("a: 1\na: 2\n"));
        assertTrue(dup.getMessage().contains("c.yml:2: key 'a' given twice"), dup.getMessage());
        ConfigException syntax = assertThrows(ConfigException.class, () -> yaml("a: [1, 2\nb: 3\n"));
        assertTrue(syntax.getMessage().contains("not valid YAML"), syntax.getMessage());
    }
}
