package dev.wudi.lora;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.checkpoint.CheckpointException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which modules an adapter's config lets PEFT adapt, as PEFT's check_target_module_exists decides when it loads the
 * adapter (tuners_utils.py), for a module's name in the model (key):
 * <ol>
 *   <li>exclude_modules: a string is a regex the whole key must match; a list excludes a key equal to an entry or
 *       ending in "." + an entry;</li>
 *   <li>a key under a modules_to_save entry (regex {@code (^|.*\.)ENTRY($|\..*)} from the start) is never adapted;</li>
 *   <li>target_modules: a string is a regex the whole key must match ("all-linear" stands for every linear layer:
 *       taken as matching any key); a list matches a key equal to an entry or ending in "." + an entry (entries are
 *       names, not regexes);</li>
 *   <li>with a list, layers_to_transform (an int or a list) keeps only keys whose layer index is among them: the
 *       first number after a dotted component ({@code .*?\.[^.]*\.(\d+)\.}), or after one of layers_pattern
 *       ({@code .*?\.PATTERN\.(\d+)\.}); a key without one is not adapted.</li>
 * </ol>
 * A config without target_modules (PEFT then takes the model type's defaults) decides nothing here.
 *
 * @param modules    target_modules as a list (null: absent, or a regex given by {@code regex})
 * @param regex      target_modules as a regex string, or null
 * @param exclude    exclude_modules as a list (empty when absent)
 * @param excludeRegex exclude_modules as a regex string, or null
 * @param layers     layers_to_transform, or null
 * @param layerPatterns layers_pattern (empty when absent)
 */
public record Targets(List<String> modules, Pattern regex, List<String> exclude, Pattern excludeRegex,
                      List<Integer> layers, List<String> layerPatterns) {

    private static final String ALL_LINEAR = "all-linear";
    /** all-linear's stand-in: the linear layers are not known here, so every module. */
    private static final String ANY = "(?s).*";

    static Targets read(Path file, JsonNode c) {
        JsonNode t = c.get("target_modules");
        List<String> modules = null;
        Pattern regex = null;
        if (t != null && t.isTextual()) {
            regex = t.asText().toLowerCase(Locale.ROOT).equals(ALL_LINEAR) ? Pattern.compile(ANY)
                    : regex(file, "target_modules", t.asText());
        } else if (t != null && !t.isNull()) {
            modules = AdapterConfig.stringList(file, c, "target_modules");
        }
        JsonNode x = c.get("exclude_modules");
        Pattern excludeRegex = x != null && x.isTextual() ? regex(file, "exclude_modules", x.asText()) : null;
        List<String> exclude = excludeRegex == null ? AdapterConfig.stringList(file, c, "exclude_modules") : List.of();
        List<Integer> layers = null;
        JsonNode l = c.get("layers_to_transform");
        if (l != null && !l.isNull()) {
            layers = new ArrayList<>();
            for (JsonNode i : l.isArray() ? l : List.of(l)) {
                if (!i.isIntegralNumber() || !i.canConvertToInt()) {
                    throw AdapterConfig.wrongType(file, "layers_to_transform", l, "a layer index or a list of them");
                }
                layers.add(i.asInt());
            }
            if (regex != null) {
                throw new CheckpointException(file + ": layers_to_transform with target_modules a regex; PEFT refuses"
                        + " this config (give target_modules as a list)");
            }
        }
        List<String> patterns = AdapterConfig.stringList(file, c, "layers_pattern");
        return new Targets(modules, regex, exclude, excludeRegex, layers, patterns);
    }

    private static Pattern regex(Path file, String key, String s) {
        try {
            return Pattern.compile(s);
        } catch (PatternSyntaxException e) {
            throw new CheckpointException(file + ": " + key + " '" + s + "' is not a regular expression this tool"
                    + " reads (" + e.getDescription() + "); give it as a list of module names");
        }
    }

    /** Whether PEFT adapts the module named {@code key}; {@code modulesToSave} as the config gives it. */
    boolean matches(String key, List<String> modulesToSave) {
        if (excludeRegex != null ? excludeRegex.matcher(key).matches() : endsWithAny(key, exclude)) {
            return false;
        }
        for (String m : modulesToSave) {
            try {
                if (Pattern.compile("(^|.*\\.)" + m + "($|\\..*)").matcher(key).lookingAt()) {
                    return false;
                }
            } catch (PatternSyntaxException notARegex) {
                if (key.equals(m) || key.startsWith(m + ".") || key.contains("." + m + ".") || key.endsWith("." + m)) {
                    return false;
                }
            }
        }
        if (regex != null) {
            return regex.matcher(key).matches();
        }
        if (modules == null) {
            return true;                                   // no target_modules: PEFT's defaults, unknown here
        }
        if (!endsWithAny(key, modules)) {
            return false;
        }
        if (layers == null || layers.isEmpty()) {
            return true;
        }
        Matcher index = null;
        if (layerPatterns.isEmpty()) {
            index = Pattern.compile(".*?\\.[^.]*\\.(\\d+)\\.").matcher(key);
            index = index.lookingAt() ? index : null;
        } else {
            for (String p : layerPatterns) {
                Matcher m = Pattern.compile(".*?\\." + p + "\\.(\\d+)\\.").matcher(key);
                if (m.lookingAt()) {
                    index = m;
                    break;
                }
            }
        }
        return index != null && layers.contains(Integer.parseInt(index.group(1)));
    }

    private static boolean endsWithAny(String key, List<String> names) {
        for (String n : names) {
            if (key.equals(n) || key.endsWith("." + n)) {
                return true;
            }
        }
        return false;
    }

    /** target_modules in words, for messages. */
    String describe() {
        if (regex != null) {
            return regex.pattern().equals(ANY) ? ALL_LINEAR : "'" + regex.pattern() + "' (a regex)";
        }
        return String.valueOf(modules);
    }
}
