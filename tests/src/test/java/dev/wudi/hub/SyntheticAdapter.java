package dev.wudi.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.DType;
import dev.wudi.model.Architectures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter on a test base as PEFT saves one: the factors of every module target_modules selects (PEFT's
 * rule: a list entry equals the module path or ends it after a dot; layers_to_transform keeps those layers), named by
 * the module's path in the class the task_type loads ({@code base_model.model.transformer.h.0.attn.c_attn...} for
 * GPT-2's file of bare names under GPT2LMHeadModel), lora_A [r, in] and lora_B [out, r] (GPT-2's Conv1D weights are
 * [in, out]: fan_in_fan_out), seeded Gaussians; and the tensors given to keep in full (modules_to_save).
 */
public final class SyntheticAdapter {

    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:h|layers|layer)\\.(\\d+)\\.");

    private SyntheticAdapter() {
    }

    /**
     * @param prefix   what the task class puts before the base file's names ("transformer." for GPT-2's bare file,
     *                 "" where the file already has the class's names)
     * @param layers   layers_to_transform, or null for every layer
     * @param full     tensors kept in full, by their name in the task class (score.weight), or an empty map
     */
    public static Path write(Path dir, Model base, String prefix, String taskType, List<String> targetModules,
                             List<Integer> layers, int r, double alpha, Map<String, Tensor> full, long seed)
            throws IOException {
        String type = base.config().path("model_type").asText();
        boolean conv1d = Architectures.CONV1D_MODEL_TYPES.contains(type);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        base.tensors().forEach((name, w) -> {
            if (!name.endsWith(".weight") || w.shape().length != 2) {
                return;
            }
            String module = prefix + name.substring(0, name.length() - ".weight".length());
            boolean selected = targetModules.stream().anyMatch(t -> module.equals(t) || module.endsWith("." + t));
            Matcher m = LAYER.matcher(module);
            if (!selected || (layers != null && (!m.find() || !layers.contains(Integer.parseInt(m.group(1)))))) {
                return;
            }
            boolean inOut = conv1d && Architectures.CONV1D_MODULE.matcher(name).find();
            long in = inOut ? w.dim(0) : w.dim(1);
            long out = inOut ? w.dim(1) : w.dim(0);
            String k = "base_model.model." + module;
            tensors.put(k + ".lora_A.weight", SeededInit.weight(seed, k + "A", r, in));
            tensors.put(k + ".lora_B.weight", SeededInit.weight(seed, k + "B", out, r));
        });
        if (tensors.isEmpty()) {
            throw new IllegalArgumentException("target_modules " + targetModules + " select no module of the base");
        }
        full.forEach((n, t) -> tensors.put("base_model.model." + n, t));
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode c = json.createObjectNode();
        c.put("peft_type", "LORA");
        c.put("task_type", taskType);
        c.put("base_model_name_or_path", "test/" + type);
        c.put("r", r);
        c.put("lora_alpha", alpha);
        targetModules.forEach(c.putArray("target_modules")::add);
        if (layers != null) {
            layers.forEach(c.putArray("layers_to_transform")::add);
            c.put("layers_pattern", type.equals("gpt2") ? "h" : "layers");
        }
        if (full.isEmpty()) {
            c.putNull("modules_to_save");
        } else {
            full.keySet().forEach(n -> c.withArray("modules_to_save").add(n.substring(0, n.lastIndexOf('.'))));
        }
        c.put("fan_in_fan_out", conv1d);
        c.put("lora_dropout", 0.0);
        c.put("bias", "none");
        Files.writeString(dir.resolve(PeftAdapter.CONFIG), json.writeValueAsString(c) + "\n");
        HubFolder.writeSafetensors(dir.resolve(PeftAdapter.WEIGHTS), tensors, DType.F32, Map.of());
        return dir;
    }
}
