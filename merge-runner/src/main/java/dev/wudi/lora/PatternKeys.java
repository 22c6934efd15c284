package dev.wudi.lora;

import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A module looked up in a PEFT rank_pattern or alpha_pattern as PEFT's get_pattern_key does: the first key, in the
 * file's order, that matches the end of the module's name at a dot boundary, the key read as a regex
 * ({@code (.*\.)?(key)$}): "c_attn" matches "transformer.h.0.attn.c_attn", "h.1.attn.c_attn" only layer 1 (not
 * "h.11"). A key that is no valid Java regex is compared as a plain suffix. Public: the test suite's model of a PEFT
 * adapter looks its modules up by this same rule, so there is one.
 */
public final class PatternKeys {

    private PatternKeys() {
    }

    public static <V> Optional<V> lookup(Map<String, V> pattern, String module) {
        for (Map.Entry<String, V> e : pattern.entrySet()) {
            if (matches(e.getKey(), module)) {
                return Optional.of(e.getValue());
            }
        }
        return Optional.empty();
    }

    static boolean matches(String key, String module) {
        try {
            return Pattern.compile("(.*\\.)?(" + key + ")").matcher(module).matches();
        } catch (PatternSyntaxException notARegex) {
            return module.equals(key) || module.endsWith("." + key);
        }
    }
}
