package dev.wudi.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A PEFT adapter_config.json, as far as it decides the weight change a LoRA adapter makes (PEFT's LoraConfig and
 * LoraLayer.update_layer): per module, delta W = scaling * B A with scaling = alpha / r, or alpha / sqrt(r) under
 * rsLoRA, r and alpha taken from rank_pattern / alpha_pattern where a key matches the module ({@link PatternKeys}).
 * What is not a plain low-rank delta is refused when read, naming the setting: other PEFT types (IA3, LoHa, LoKr,
 * AdaLoRA, ...), DoRA (it rescales the whole weight), trainable LoRA biases, layer replication (it changes the model's
 * structure), target_parameters and trainable tokens. Every setting read must have PEFT's type (a string
 * "sixteen" for lora_alpha, "yes" for use_rslora, 4.5 for r are refused, not read as defaults), r and alpha must be
 * positive and finite; null stands for the default, as in PEFT. Which modules the adapter may change is decided as
 * PEFT decides it when loading ({@link #targets}): factors for any other module are refused by the adapter.
 */
public record AdapterConfig(Path file, int r, double loraAlpha, boolean useRslora, boolean fanInFanOut,
                            Map<String, Integer> rankPattern, Map<String, Double> alphaPattern,
                            List<String> targetModules, List<String> modulesToSave, String baseModel,
                            String taskType, String bias, Targets targets) {

    public AdapterConfig {
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
        targetModules = List.copyOf(targetModules);
        modulesToSave = List.copyOf(modulesToSave);
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads and checks adapter_config.json; every refusal names the file and the setting. */
    public static AdapterConfig read(Path file) throws IOException {
        JsonNode c;
        try {
            c = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (c == null || !c.isObject()) {
            throw new CheckpointException(file + ": not a JSON object");
        }
        String type = text(file, c, "peft_type");
        if (type == null || type.isEmpty()) {
            throw new CheckpointException(file + ": has no peft_type; a PEFT LoRA adapter's config says \"peft_type\": \"LORA\"");
        }
        if (!type.equals("LORA")) {
            throw new CheckpointException(file + ": peft_type " + type + " is not supported; only LoRA adapters"
                    + " (peft_type LORA) can be merged (merge_and_unload the adapter with PEFT and pass the full model)");
        }
        refuseIf(file, flag(file, c, "use_dora", false), "use_dora: true (DoRA rescales the whole weight by a"
                + " learnt magnitude, so its change is not a low-rank delta)");
        refuseIf(file, flag(file, c, "lora_bias", false), "lora_bias: true (a trainable bias on lora_B)");
        refuseIf(file, present(c.path("layer_replication")), "layer_replication (it changes the model's structure)");
        refuseIf(file, present(c.path("target_parameters")), "target_parameters (LoRA on bare parameters)");
        refuseIf(file, present(c.path("trainable_token_indices")), "trainable_token_indices (trainable tokens)");
        int r = rank(file, "r", c.get("r"), 8);
        double alpha = alpha(file, "lora_alpha", c.get("lora_alpha"), 8);
        Map<String, Integer> ranks = new LinkedHashMap<>();
        mapping(file, c, "rank_pattern").forEach((k, v) -> ranks.put(k, rank(file, "rank_pattern '" + k + "'", v, 8)));
        Map<String, Double> alphas = new LinkedHashMap<>();
        mapping(file, c, "alpha_pattern").forEach((k, v) -> alphas.put(k, alpha(file, "alpha_pattern '" + k + "'", v,
                8)));
        Targets targets = Targets.read(file, c);
        return new AdapterConfig(file, r, alpha, flag(file, c, "use_rslora", false), flag(file, c, "fan_in_fan_out",
                false), ranks, alphas, stringList(file, c, "target_modules"), stringList(file, c, "modules_to_save"),
                text(file, c, "base_model_name_or_path"), text(file, c, "task_type"),
                Objects.requireNonNullElse(text(file, c, "bias"), "none"), targets);
    }

    /** Whether PEFT would put a LoRA layer on {@code module} (its name in the model), as {@link Targets} decides. */
    public boolean targets(String module) {
        return targets.matches(module, modulesToSave);
    }

    /** The module's rank: its rank_pattern entry, else r. */
    public int rank(String module) {
        return PatternKeys.lookup(rankPattern, module).orElse(r);
    }

    /** The module's alpha: its alpha_pattern entry, else lora_alpha. */
    public double alpha(String module) {
        return PatternKeys.lookup(alphaPattern, module).orElse(loraAlpha);
    }

    /** scaling = alpha / r (alpha / sqrt(r) with use_rslora), as LoraLayer.update_layer sets it. */
    public double scaling(String module) {
        int rank = rank(module);
        return useRslora ? alpha(module) / Math.sqrt(rank) : alpha(module) / rank;
    }

    private static void refuseIf(Path file, boolean bad, String what) {
        if (bad) {
            throw new CheckpointException(file + ": " + what + " is not supported; only plain LoRA adapters can be"
                    + " merged (merge_and_unload the adapter with PEFT and pass the full model)");
        }
    }

    private static boolean present(JsonNode n) {
        return !n.isMissingNode() && !n.isNull() && !(n.isContainerNode() && n.isEmpty());
    }

    /** A wrong type is refused naming the setting and what PEFT expects. */
    static CheckpointException wrongType(Path file, String key, JsonNode v, String expected) {
        return new CheckpointException(file + ": " + key + " is " + v + ", but PEFT reads it as " + expected);
    }

    /** A string setting, or null where it is absent or null. */
    static String text(Path file, JsonNode c, String key) {
        JsonNode n = c.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual()) {
            throw wrongType(file, key, n, "a string");
        }
        return n.asText();
    }

    private static boolean flag(Path file, JsonNode c, String key, boolean otherwise) {
        JsonNode n = c.get(key);
        if (n == null || n.isNull()) {
            return otherwise;
        }
        if (!n.isBoolean()) {
            throw wrongType(file, key, n, "true or false");
        }
        return n.asBoolean();
    }

    /** A rank: a JSON integer >= 1 (4.5 and "four" are not ranks). */
    private static int rank(Path file, String key, JsonNode n, int otherwise) {
        if (n == null || n.isNull()) {
            return otherwise;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw wrongType(file, key, n, "an integer rank");
        }
        if (n.asInt() < 1) {
            throw new CheckpointException(file + ": " + key + " " + n + " is not a positive rank");
        }
        return n.asInt();
    }

    /** An alpha: a number, positive and finite in float32 (the scaling multiplies float32 factors). */
    private static double alpha(Path file, String key, JsonNode n, double otherwise) {
        if (n == null || n.isNull()) {
            return otherwise;
        }
        if (!n.isNumber()) {
            throw wrongType(file, key, n, "a number");
        }
        double v = n.asDouble();
        if (!(v > 0 && v <= Float.MAX_VALUE)) {
            throw new CheckpointException(file + ": " + key + " " + n + " is not a positive finite alpha (the scaling"
                    + " alpha / r multiplies the factors)");
        }
        return v;
    }

    /** An object of name: value (rank_pattern, alpha_pattern), empty where absent or null. */
    private static Map<String, JsonNode> mapping(Path file, JsonNode c, String key) {
        JsonNode n = c.get(key);
        Map<String, JsonNode> out = new LinkedHashMap<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (!n.isObject()) {
            throw wrongType(file, key, n, "an object of module pattern: value");
        }
        n.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    /** A list of strings, or a single string, as one list; empty where absent or null. */
    static List<String> stringList(Path file, JsonNode c, String key) {
        JsonNode n = c.get(key);
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (n.isTextual()) {
            out.add(n.asText());
            return out;
        }
        if (!n.isArray()) {
            throw wrongType(file, key, n, "a list of strings");
        }
        for (JsonNode x : n) {
            if (!x.isTextual()) {
                throw wrongType(file, key, n, "a list of strings");
            }
            out.add(x.asText());
        }
        return out;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
