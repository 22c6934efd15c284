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

/**
 * A PEFT adapter_config.json, as far as it decides the weight change a LoRA adapter makes (PEFT's LoraConfig and
 * LoraLayer.update_layer): per module, delta W = scaling * B A with scaling = alpha / r, or alpha / sqrt(r) under
 * rsLoRA, r and alpha taken from rank_pattern / alpha_pattern where a key matches the module ({@link PatternKeys}).
 * What is not a plain low-rank delta is refused when read, naming the setting: other PEFT types (IA3, LoHa, LoKr,
 * AdaLoRA, ...), DoRA (it rescales the whole weight), trainable LoRA biases, layer replication (it changes the model's
 * structure), target_parameters and trainable tokens. Settings that only decided which modules were adapted
 * (target_modules, layers_to_transform) are informative: the weights file says what was adapted.
 */
public record AdapterConfig(Path file, int r, double loraAlpha, boolean useRslora, boolean fanInFanOut,
                            Map<String, Integer> rankPattern, Map<String, Double> alphaPattern,
                            List<String> targetModules, List<String> modulesToSave, String baseModel,
                            String taskType, String bias) {

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
        String type = c.path("peft_type").asText("");
        if (type.isEmpty()) {
            throw new CheckpointException(file + ": has no peft_type; a PEFT LoRA adapter's config says \"peft_type\": \"LORA\"");
        }
        if (!type.equals("LORA")) {
            throw new CheckpointException(file + ": peft_type " + type + " is not supported; only LoRA adapters"
                    + " (peft_type LORA) can be merged (merge_and_unload the adapter with PEFT and pass the full model)");
        }
        refuseIf(file, c.path("use_dora").asBoolean(false), "use_dora: true (DoRA rescales the whole weight by a"
                + " learnt magnitude, so its change is not a low-rank delta)");
        refuseIf(file, c.path("lora_bias").asBoolean(false), "lora_bias: true (a trainable bias on lora_B)");
        refuseIf(file, present(c.path("layer_replication")), "layer_replication (it changes the model's structure)");
        refuseIf(file, present(c.path("target_parameters")), "target_parameters (LoRA on bare parameters)");
        refuseIf(file, present(c.path("trainable_token_indices")), "trainable_token_indices (trainable tokens)");
        int r = c.path("r").asInt(8);
        if (r < 1) {
            throw new CheckpointException(file + ": r " + c.path("r") + " is not a positive rank");
        }
        double alpha = c.path("lora_alpha").asDouble(8);
        Map<String, Integer> ranks = new LinkedHashMap<>();
        c.path("rank_pattern").fields().forEachRemaining(e -> ranks.put(e.getKey(), e.getValue().asInt()));
        Map<String, Double> alphas = new LinkedHashMap<>();
        c.path("alpha_pattern").fields().forEachRemaining(e -> alphas.put(e.getKey(), e.getValue().asDouble()));
        ranks.forEach((k, v) -> {
            if (v < 1) {
                throw new CheckpointException(file + ": rank_pattern gives '" + k + "' rank " + v);
            }
        });
        return new AdapterConfig(file, r, alpha, c.path("use_rslora").asBoolean(false),
                c.path("fan_in_fan_out").asBoolean(false), ranks, alphas, strings(c.path("target_modules")),
                strings(c.path("modules_to_save")), text(c.path("base_model_name_or_path")), text(c.path("task_type")),
                c.path("bias").asText("none"));
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

    private static String text(JsonNode n) {
        return n.isTextual() ? n.asText() : null;
    }

    /** A list, a single string (a regex in PEFT), or null. */
    private static List<String> strings(JsonNode n) {
        List<String> out = new ArrayList<>();
        if (n.isTextual()) {
            out.add(n.asText());
        } else if (n.isArray()) {
            n.forEach(x -> out.add(x.asText()));
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
