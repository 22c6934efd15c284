package dev.wudi.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.wudi.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint's config.json as transformers writes it, read for what the merge needs: the architecture
 * (model_type, architectures), whether the output embedding is tied to the input one, the vocabulary size, and
 * the fields that define the body's shape (layer counts, widths), which fine-tunes of one base share. A
 * checkpoint without config.json (a single .safetensors file) has {@link #absent()}: then the tensor names
 * alone decide.
 */
public final class ModelConfig {

    public static final String FILE = "config.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final JsonNode root;

    private ModelConfig(Path file, JsonNode root) {
        this.file = file;
        this.root = root;
    }

    /** No config.json: every answer is "unknown". */
    public static ModelConfig absent() {
        return new ModelConfig(null, MissingNode.getInstance());
    }

    /**
     * The config.json of a Hugging Face folder, or {@link #absent()} for a single file or a folder without one.
     *
     * @throws CheckpointException naming the file if it is not a JSON object
     */
    public static ModelConfig of(Path checkpoint) throws IOException {
        if (!Files.isDirectory(checkpoint)) {
            return absent();
        }
        Path f = checkpoint.resolve(FILE);
        if (!Files.isRegularFile(f)) {
            return absent();
        }
        JsonNode n;
        try {
            n = JSON.readTree(f.toFile());
        } catch (JsonProcessingException e) {
            throw new CheckpointException(f + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (n == null || !n.isObject()) {
            throw new CheckpointException(f + ": expected a JSON object");
        }
        return new ModelConfig(f, n);
    }

    public boolean present() {
        return file != null;
    }

    /** The config.json this was read from, or null. */
    public Path file() {
        return file;
    }

    /** The parsed document (a MissingNode when absent); do not modify. */
    public JsonNode json() {
        return root;
    }

    /**
     * The number of transformer layers (num_hidden_layers, n_layer, n_layers or num_layers; text_config's for a
     * multimodal config), or -1 when the config does not say.
     */
    public int layerCount() {
        String f = layerCountField();
        return f == null ? -1 : root.at("/" + f.replace('.', '/')).asInt();
    }

    /** The field {@link #layerCount} reads ("n_layer", "text_config.num_hidden_layers"), or null. */
    public String layerCountField() {
        for (String prefix : new String[] {"", "text_config."}) {
            JsonNode c = prefix.isEmpty() ? root : root.path("text_config");
            for (String k : new String[] {"num_hidden_layers", "n_layer", "n_layers", "num_layers"}) {
                if (c.path(k).isIntegralNumber()) {
                    return prefix + k;
                }
            }
        }
        return null;
    }

    /** model_type ("gpt2", "llama", ...), or "" when unknown. */
    public String modelType() {
        return root.path("model_type").asText("");
    }

    /** architectures ("GPT2LMHeadModel", ...), empty when unknown. */
    public List<String> architectures() {
        List<String> out = new ArrayList<>();
        root.path("architectures").forEach(a -> out.add(a.asText()));
        return out;
    }

    /** vocab_size (top level, else text_config's), or -1. */
    public long vocabSize() {
        JsonNode v = root.path("vocab_size");
        if (!v.isNumber()) {
            v = root.path("text_config").path("vocab_size");
        }
        return v.isNumber() ? v.asLong() : -1;
    }

    /** hidden_size or its aliases (n_embd, dim, d_model), or -1. */
    public long hiddenSize() {
        for (String k : new String[] {"hidden_size", "n_embd", "dim", "d_model"}) {
            JsonNode v = root.path(k);
            if (v.isNumber()) {
                return v.asLong();
            }
        }
        JsonNode t = root.path("text_config").path("hidden_size");
        return t.isNumber() ? t.asLong() : -1;
    }

    /**
     * Whether the output embedding (lm_head and its kin) shares the input embedding's weights: the
     * tie_word_embeddings field, else the architecture's default (true in transformers v4's base config and for
     * GPT-2, BERT and their kin; false for Llama, Qwen and the MoE models since v5 declares it per model).
     */
    public boolean tiesWordEmbeddings() {
        JsonNode t = root.path("tie_word_embeddings");
        if (t.isBoolean()) {
            return t.asBoolean();
        }
        return !Architectures.UNTIED_BY_DEFAULT.contains(modelType());
    }

    /**
     * The fields that fix the body's shape and kind, with their values as text: model_type and every
     * {@link Architectures#ARCHITECTURE_FIELDS} entry present, at the top level and in nested sub-configs
     * (text_config, vision_config, ...), keyed "text_config.hidden_size" there.
     */
    public Map<String, String> architectureFields() {
        Map<String, String> out = new LinkedHashMap<>();
        collect("", root, out, 0);
        return out;
    }

    private static void collect(String prefix, JsonNode node, Map<String, String> out, int depth) {
        if (!node.isObject() || depth > 2) {
            return;
        }
        if (node.has("model_type")) {
            out.put(prefix + "model_type", node.get("model_type").asText());
        }
        for (String k : Architectures.ARCHITECTURE_FIELDS) {
            JsonNode v = node.get(k);
            if (v != null && !v.isNull()) {
                out.put(prefix + k, v.toString());
            }
        }
        node.fields().forEachRemaining(e -> {
            if (e.getKey().endsWith("_config") && e.getValue().isObject()) {
                collect(prefix + e.getKey() + ".", e.getValue(), out, depth + 1);
            }
        });
    }
}
