package dev.wudi.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes a Hugging Face model folder: config.json and a single model.safetensors. */
public final class HubFolder {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** What transformers' save_pretrained puts in the header; some loaders refuse files without it. */
    private static final Map<String, String> METADATA = Map.of("format", "pt");

    private HubFolder() {
    }

    public static Path write(Path dir, Model model, DType dtype) throws IOException {
        return write(dir, model.config(), model.tensors(), dtype);
    }

    public static Path write(Path dir, ObjectNode config, Map<String, Tensor> tensors, DType dtype)
            throws IOException {
        return write(dir, config, tensors, dtype, Map.of());
    }

    /**
     * Writes the folder; float tensors are narrowed to dtype and come first, in map order, then the raw
     * extras byte for byte. The config's torch_dtype, when present, is set to match the file, as
     * save_pretrained does, so a reader never sees a float32 config over bf16 weights.
     */
    public static Path write(Path dir, ObjectNode config, Map<String, Tensor> tensors, DType dtype,
                             Map<String, RawTensor> extras) throws IOException {
        Files.createDirectories(dir);
        ObjectNode cfg = config.deepCopy();
        if (cfg.has("torch_dtype")) {
            cfg.put("torch_dtype", torchName(dtype));
        }
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(cfg) + "\n");
        writeSafetensors(dir.resolve("model.safetensors"), tensors, dtype, extras);
        return dir;
    }

    /** One safetensors file with {"format": "pt"} metadata; also used to write adapters for tests. */
    public static void writeSafetensors(Path file, Map<String, Tensor> tensors, DType dtype,
                                        Map<String, RawTensor> extras) throws IOException {
        if (!dtype.mergeable()) {
            throw new IllegalArgumentException("float tensors need F32, F16 or BF16, not " + dtype);
        }
        List<TensorSpec> specs = new ArrayList<>();
        tensors.forEach((name, t) -> specs.add(new TensorSpec(name, dtype, t.shape())));
        extras.forEach((name, t) -> specs.add(new TensorSpec(name, t.dtype(), t.shape())));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, METADATA)) {
            for (Tensor t : tensors.values()) {
                w.writeFloats(t.data(), 0, t.numel());
            }
            for (RawTensor t : extras.values()) {
                w.write(ByteBuffer.wrap(t.bytes()));
            }
            w.finish();
        }
    }

    /** The torch dtype name config.json uses. */
    static String torchName(DType dtype) {
        return switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> dtype.name().toLowerCase(Locale.ROOT);
        };
    }
}
