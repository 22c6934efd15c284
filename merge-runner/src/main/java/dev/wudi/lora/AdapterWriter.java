package dev.wudi.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a PEFT LoRA adapter: adapter_model.safetensors with PEFT's names ({@code base_model.model.M.lora_A.weight}
 * [R, in] and {@code ...lora_B.weight} [out, R]; an embedding's {@code lora_embedding_A} [R, vocab] and
 * {@code lora_embedding_B} [dim, R]; a Conv2d's [R, in, k, k] and [out, R, 1, 1]) and the tensors kept in full
 * (modules_to_save) under {@code base_model.model.NAME}, beside the adapter_config.json it is given.
 */
public final class AdapterWriter {

    /**
     * One module's factors: delta = scaling * B A with B [out, rank] and A [rank, in...], in the module's own
     * orientation (see {@link LoraAdapter.Module}).
     *
     * @param aShape lora_A's shape ([rank, in] or [rank, in, k, k]; an embedding's [rank, vocab])
     * @param bShape lora_B's shape ([out, rank] or [out, rank, 1, 1]; an embedding's [dim, rank])
     */
    public record Module(String module, boolean embedding, float[] a, long[] aShape, float[] b, long[] bShape) {
    }

    /** A tensor kept in full, under its name in the adapted model. */
    public record Full(String name, float[] values, long[] shape) {
    }

    private AdapterWriter() {
    }

    /** Writes adapter_model.safetensors and adapter_config.json into dir (which exists). */
    public static void write(Path dir, List<Module> modules, List<Full> full, ObjectNode config, DType dtype,
                             Map<String, String> metadata) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        List<float[]> data = new ArrayList<>();
        for (Module m : modules) {
            String a = m.embedding() ? ".lora_embedding_A" : ".lora_A.weight";
            String b = m.embedding() ? ".lora_embedding_B" : ".lora_B.weight";
            specs.add(new TensorSpec(LoraAdapter.PREFIX + m.module() + a, dtype, m.aShape()));
            data.add(m.a());
            specs.add(new TensorSpec(LoraAdapter.PREFIX + m.module() + b, dtype, m.bShape()));
            data.add(m.b());
        }
        for (Full f : full) {
            specs.add(new TensorSpec(LoraAdapter.PREFIX + f.name(), dtype, f.shape()));
            data.add(f.values());
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.putAll(metadata);
        try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve(LoraAdapter.WEIGHTS), specs, meta)) {
            for (float[] v : data) {
                w.writeFloats(v, 0, v.length);
            }
            w.finish();
        }
        Files.writeString(dir.resolve(LoraAdapter.CONFIG),
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(config) + "\n");
    }
}
