package dev.wudi.cli;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Builds small checkpoints on the fly: files, and Hugging Face folders with or without shards. */
final class TinyModels {

    /** Tensor name -> shape of a toy transformer block, with an embedding, norms and an int buffer. */
    static Map<String, long[]> layout() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", new long[] {50, 16});
        m.put("model.layers.0.self_attn.q_proj.weight", new long[] {16, 16});
        m.put("model.layers.0.self_attn.v_proj.weight", new long[] {16, 16});
        m.put("model.layers.0.mlp.up_proj.weight", new long[] {40, 16});
        m.put("model.layers.0.mlp.down_proj.weight", new long[] {16, 40});
        m.put("model.layers.0.input_layernorm.weight", new long[] {16});
        m.put("model.norm.weight", new long[] {16});
        m.put("lm_head.weight", new long[] {50, 16});
        m.put("model.position_ids", new long[] {1, 8});
        return m;
    }

    /** Writes one model; base and tasks share the layout, tasks perturb the base by ~1e-3. */
    static void writeFile(Path file, Map<String, long[]> layout, DType dtype, long seed, long baseSeed)
            throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (Map.Entry<String, long[]> e : layout.entrySet()) {
            boolean ints = e.getKey().endsWith("position_ids");
            specs.add(new TensorSpec(e.getKey(), ints ? DType.I64 : dtype, e.getValue()));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of("format", "pt"))) {
            for (TensorSpec s : specs) {
                int n = (int) (s.byteSize() / s.dtype().bytes());
                if (s.dtype() == DType.I64) {
                    ByteBuffer b = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
                    for (int j = 0; j < n; j++) {
                        b.putLong(j);
                    }
                    b.flip();
                    w.write(b);
                } else {
                    w.writeFloats(values(s.name(), n, seed, baseSeed), 0, n);
                }
            }
            w.finish();
        }
    }

    static float[] values(String name, int n, long seed, long baseSeed) {
        Random base = new Random(baseSeed * 31 + name.hashCode());
        Random task = new Random(seed * 31 + name.hashCode());
        float[] a = new float[n];
        for (int j = 0; j < n; j++) {
            a[j] = (float) (base.nextGaussian() * 0.05 + (seed == baseSeed ? 0 : task.nextGaussian() * 1e-3));
        }
        return a;
    }

    /** base.safetensors, a.safetensors and b.safetensors in dir (F32; the fine-tunes' seeds 2 and 3): their paths. */
    static Path[] baseAndTwo(Path dir) throws IOException {
        Path[] p = {dir.resolve("base.safetensors"), dir.resolve("a.safetensors"), dir.resolve("b.safetensors")};
        for (int i = 0; i < p.length; i++) {
            writeFile(p[i], layout(), DType.F32, i + 1, 1);
        }
        return p;
    }

    /** A Hugging Face folder: shards of about shardBytes each with an index, plus config and tokenizer files. */
    static Path writeFolder(Path dir, long seed, long baseSeed, int shards) throws IOException {
        Files.createDirectories(dir);
        Map<String, long[]> all = layout();
        List<String> names = new ArrayList<>(all.keySet());
        StringBuilder map = new StringBuilder();
        long total = 0;
        for (int s = 0; s < shards; s++) {
            Map<String, long[]> part = new LinkedHashMap<>();
            for (int k = s; k < names.size(); k += shards) {
                part.put(names.get(k), all.get(names.get(k)));
            }
            String file = shards == 1 ? "model.safetensors"
                    : String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
            writeFile(dir.resolve(file), part, DType.F32, seed, baseSeed);
            for (Map.Entry<String, long[]> e : part.entrySet()) {
                if (map.length() > 0) {
                    map.append(",\n");
                }
                map.append("    \"").append(e.getKey()).append("\": \"").append(file).append('"');
                long n = 1;
                for (long d : e.getValue()) {
                    n *= d;
                }
                total += n * (e.getKey().endsWith("position_ids") ? 8 : 4);
            }
        }
        if (shards > 1) {
            Files.writeString(dir.resolve("model.safetensors.index.json"),
                    "{\n  \"metadata\": {\"total_size\": " + total + "},\n  \"weight_map\": {\n" + map + "\n  }\n}\n");
        }
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"toy\", \"hidden_size\": 16}\n");
        Files.writeString(dir.resolve("tokenizer.json"), "{\"version\": \"1.0\"}\n");
        Files.writeString(dir.resolve("generation_config.json"), "{}\n");
        return dir;
    }

    private TinyModels() {
    }
}
