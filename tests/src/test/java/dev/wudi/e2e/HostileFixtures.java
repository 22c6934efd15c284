package dev.wudi.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The small inputs HostileInputsTest spoils one way each: a two-layer GPT-2 of width 8 (Conv1D weights [in, out], as
 * transformers saves GPT-2, or the same modules as nn.Linear [out, in] under the same config), fine-tunes of it, PEFT
 * LoRA adapters on its c_attn, and config files. Values are seeded Gaussians, so every run builds the same bytes.
 */
final class HostileFixtures {

    static final int WIDTH = 8;
    static final int LAYERS = 2;
    static final int VOCAB = 16;

    private static final ObjectMapper JSON = new ObjectMapper();

    private HostileFixtures() {
    }

    /** GPT2LMHeadModel's tensors; conv1d false stores c_attn, c_fc and the MLP's c_proj as nn.Linear [out, in]. */
    static Map<String, Tensor> gpt2(boolean conv1d, long seed, double scale) {
        Random r = new Random(seed);
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("transformer.wte.weight", random(r, scale, VOCAB, WIDTH));
        t.put("transformer.wpe.weight", random(r, scale, WIDTH, WIDTH));
        for (int i = 0; i < LAYERS; i++) {
            String h = "transformer.h." + i + ".";
            t.put(h + "ln_1.weight", random(r, scale, WIDTH));
            t.put(h + "attn.c_attn.weight", conv1d ? random(r, scale, WIDTH, 3 * WIDTH) : random(r, scale, 3 * WIDTH,
                    WIDTH));
            t.put(h + "attn.c_attn.bias", random(r, scale, 3 * WIDTH));
            t.put(h + "attn.c_proj.weight", random(r, scale, WIDTH, WIDTH));
            t.put(h + "mlp.c_fc.weight", conv1d ? random(r, scale, WIDTH, 4 * WIDTH) : random(r, scale, 4 * WIDTH,
                    WIDTH));
            t.put(h + "mlp.c_proj.weight", conv1d ? random(r, scale, 4 * WIDTH, WIDTH) : random(r, scale, WIDTH,
                    4 * WIDTH));
        }
        t.put("transformer.ln_f.weight", random(r, scale, WIDTH));
        return t;
    }

    /** base + a seeded task vector of about 1e-2, tensor by tensor. */
    static Map<String, Tensor> fineTune(Map<String, Tensor> base, long seed) {
        Random r = new Random(seed);
        Map<String, Tensor> out = new LinkedHashMap<>();
        base.forEach((n, t) -> {
            float[] v = t.data().clone();
            for (int j = 0; j < v.length; j++) {
                v[j] += (float) (0.01 * r.nextGaussian());
            }
            out.put(n, new Tensor(v, t.shape()));
        });
        return out;
    }

    /** GPT-2's config.json claiming {@code layers} layers. */
    static ObjectNode gpt2Config(int layers) {
        ObjectNode c = JSON.createObjectNode();
        c.put("model_type", "gpt2");
        c.putArray("architectures").add("GPT2LMHeadModel");
        c.put("n_embd", WIDTH);
        c.put("n_layer", layers);
        c.put("n_head", 2);
        c.put("n_positions", WIDTH);
        c.put("vocab_size", VOCAB);
        return c;
    }

    /** A Hugging Face folder: config.json and model.safetensors. */
    static Path folder(Path dir, ObjectNode config, Map<String, Tensor> tensors) throws IOException {
        return HubFolder.write(dir, config, tensors, DType.F32);
    }

    /**
     * A PEFT LoRA adapter folder over the GPT-2 above: rank-2 factors for c_attn of the given layers
     * (lora_A [2, width], lora_B [3 width, 2]: fan_in_fan_out, as GPT-2's adapters) and this adapter_config.json.
     */
    static Path adapter(Path dir, String configJson, List<Integer> layers, long seed) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), configJson);
        Random r = new Random(seed);
        Map<String, Tensor> f = new LinkedHashMap<>();
        for (int i : layers) {
            String m = "base_model.model.transformer.h." + i + ".attn.c_attn.";
            f.put(m + "lora_A.weight", random(r, 0.1, 2, WIDTH));
            f.put(m + "lora_B.weight", random(r, 0.1, 3 * WIDTH, 2));
        }
        HubFolder.writeSafetensors(dir.resolve("adapter_model.safetensors"), f, DType.F32, Map.of());
        return dir;
    }

    /** adapter_config.json of a plain rank-2 LoRA with one setting replaced or added (JSON text). */
    static String adapterConfig(String key, String valueJson) {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("peft_type", "\"LORA\"");
        c.put("r", "2");
        c.put("lora_alpha", "4");
        c.put("fan_in_fan_out", "true");
        c.put("target_modules", "[\"c_attn\"]");
        if (key != null) {
            c.put(key, valueJson);
        }
        StringBuilder s = new StringBuilder("{");
        c.forEach((k, v) -> s.append(s.length() > 1 ? ", " : "").append('"').append(k).append("\": ").append(v));
        return s.append('}').toString();
    }

    private static Tensor random(Random r, double scale, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        float[] v = new float[(int) n];
        for (int j = 0; j < v.length; j++) {
            v[j] = (float) (scale * r.nextGaussian());
        }
        return new Tensor(v, shape);
    }
}
