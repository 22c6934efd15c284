package dev.wudi.hub;

import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Looks a module up in a PEFT rank_pattern / alpha_pattern. PEFT treats each key as a regex that must
 * match the end of the module name at a dot boundary, so "c_attn" matches "transformer.h.0.attn.c_attn"
 * and "h.1.attn.c_attn" matches only layer 1 (not "h.11"). An exact name wins over an earlier regex.
 */
final class PatternKeys {

    private PatternKeys() {
    }

    static <V> Optional<V> lookup(Map<String, V> pattern, String module) {
        if (pattern.containsKey(module)) {
            return Optional.of(pattern.get(module));
        }
        for (Map.Entry<String, V> e : pattern.entrySet()) {
            if (module.endsWith("." + e.getKey()) || matchesAsRegex(e.getKey(), module)) {
                return Optional.of(e.getValue());
            }
        }
        return Optional.empty();
    }

    private static boolean matchesAsRegex(String key, String module) {
        try {
            return Pattern.compile("(?:.*\\.)?(?:" + key + ")").matcher(module).matches();
        } catch (PatternSyntaxException notARegex) {
            return false;
        }
    }
}
