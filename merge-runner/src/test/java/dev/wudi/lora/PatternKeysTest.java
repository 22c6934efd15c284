package dev.wudi.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** rank_pattern / alpha_pattern keys matched as PEFT's get_pattern_key does: (.*\.)?(key)$, first key in order. */
class PatternKeysTest {

    @Test
    void keyMatchesTheEndOfTheModuleAtADotBoundary() {
        assertTrue(PatternKeys.matches("c_attn", "transformer.h.0.attn.c_attn"));
        assertTrue(PatternKeys.matches("h.1.attn.c_attn", "transformer.h.1.attn.c_attn"));
        assertFalse(PatternKeys.matches("h.1.attn.c_attn", "transformer.h.11.attn.c_attn"), "not h.11");
        assertFalse(PatternKeys.matches("attn", "transformer.h.0.attn.c_attn"), "the end of the name only");
        assertFalse(PatternKeys.matches("_attn", "transformer.h.0.attn.c_attn"), "at a dot boundary");
        assertTrue(PatternKeys.matches("h\\.[0-3]\\.attn\\.c_attn", "transformer.h.2.attn.c_attn"), "a regex");
        assertTrue(PatternKeys.matches("q_lin(", "layer.0.attention.q_lin("), "no valid regex: a plain suffix");
    }

    @Test
    void firstMatchingKeyInTheFilesOrderWins() {
        Map<String, Integer> p = new LinkedHashMap<>();
        p.put("c_attn", 4);
        p.put("h.1.attn.c_attn", 16);
        assertEquals(Optional.of(4), PatternKeys.lookup(p, "transformer.h.1.attn.c_attn"));
        assertEquals(Optional.empty(), PatternKeys.lookup(p, "transformer.h.1.mlp.c_fc"));
    }
}
