package dev.wudi.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.spec.TokenizerSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A mergekit YAML config (mergekit's MergeConfiguration), read strictly: where mergekit silently ignores a key it
 * does not know, this names it with its line and stops, since a misspelt "desnity" would otherwise merge with the
 * default. Model references are local paths, or {@code path+lora_path} for a LoRA adapter on top of a model;
 * relative paths are taken from the working directory, as mergekit does, else from the config's folder.
 *
 * @param method       merge_method
 * @param base         base_model, or null
 * @param models       the models in order (the base among them is dropped, as its parameters are unused)
 * @param parameters   the top-level parameters (numbers, gradients, filtered lists)
 * @param options      top-level parameters given as strings (wudi's solver, rest, include, exclude, ...)
 * @param dtype        dtype (mergekit's load dtype; arithmetic here is float32 whatever it says), or null
 * @param outDType     out_dtype, or null
 * @param tokenizer    tokenizer_source (or tokenizer: {source}), or null where the config gives none
 * @param chatTemplate chat_template, or null
 * @param randomSeed   random_seed (mergekit takes it on its command line; accepted here too), or null
 */
public record MergekitConfig(LocatedYaml doc, String method, ModelRef base, List<ModelEntry> models,
                             Map<String, ParamSetting> parameters, Map<String, String> options, String dtype,
                             String outDType, TokenizerSource tokenizer, String chatTemplate, Long randomSeed) {

    /** A model reference: the model, and the LoRA adapter applied on top of it or null. */
    public record ModelRef(Path model, Path lora, String text) {
    }

    /** One entry of models: its reference, its own parameters and the line it is on. */
    public record ModelEntry(ModelRef ref, Map<String, ParamSetting> parameters, String pointer) {
    }

    static final Set<String> TOP_LEVEL = Set.of("merge_method", "base_model", "models", "slices", "modules",
            "parameters", "dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template", "random_seed");
    static final Set<String> DTYPES = Set.of("float32", "float16", "bfloat16", "torch.float32", "torch.float16",
            "torch.bfloat16");

    public static MergekitConfig read(Path file) throws IOException {
        LocatedYaml doc = LocatedYaml.read(file);
        JsonNode root = doc.root();
        if (!root.isObject()) {
            throw new ConfigException(doc.where("") + ": a merge config is a mapping (merge_method, base_model, models,"
                    + " parameters, ...)");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!TOP_LEVEL.contains(k)) {
                throw new ConfigException(doc.where("/" + k) + ": unknown key '" + k + "' (a mergekit config has "
                        + String.join(", ", new java.util.TreeSet<>(TOP_LEVEL)) + ")");
            }
        }
        String method = text(doc, "/merge_method", true);
        ModelRef base = root.has("base_model") && !root.get("base_model").isNull()
                ? ref(doc, "/base_model") : null;
        List<ModelEntry> models = new ArrayList<>();
        if (root.has("slices") || root.has("modules")) {
            models.addAll(SliceCheck.asModels(doc, base));
        }
        if (root.has("models")) {
            if (!models.isEmpty()) {
                throw new ConfigException(doc.where("/models") + ": give one of models, slices or modules, not several");
            }
            models.addAll(modelsAt(doc, "/models", base));
        }
        if (models.isEmpty()) {
            throw new ConfigException(doc.where("") + ": no models to merge (models: is missing or lists only the base)");
        }
        Map<String, String> options = new LinkedHashMap<>();
        Map<String, ParamSetting> parameters = params(doc, "/parameters", options);
        String dtype = dtype(doc, "/dtype");
        String outDType = dtype(doc, "/out_dtype");
        TokenizerSource tokenizer = tokenizer(doc);
        String chat = root.has("chat_template") ? text(doc, "/chat_template", true) : null;
        Long seed = null;
        if (root.has("random_seed")) {
            JsonNode s = root.get("random_seed");
            if (!s.canConvertToLong() || !s.isIntegralNumber()) {
                throw new ConfigException(doc.where("/random_seed") + ": random_seed must be an integer");
            }
            seed = s.asLong();
        }
        return new MergekitConfig(doc, method, base, models, parameters, options, dtype, outDType, tokenizer, chat,
                seed);
    }

    /** A models: list at {@code pointer} (the base, if listed, left out: its parameters are unused). */
    static List<ModelEntry> modelsAt(LocatedYaml doc, String pointer, ModelRef base) {
        JsonNode ms = doc.root().at(pointer);
        if (!ms.isArray()) {
            throw new ConfigException(doc.where(pointer) + ": models is a list of {model: PATH, parameters: {...}}");
        }
        List<ModelEntry> out = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            String p = pointer + "/" + i;
            JsonNode m = ms.get(i);
            if (!m.isObject() || !m.has("model")) {
                throw new ConfigException(doc.where(p) + ": each model is {model: PATH, parameters: {...}}");
            }
            m.fieldNames().forEachRemaining(k -> {
                if (!k.equals("model") && !k.equals("parameters")) {
                    throw new ConfigException(doc.where(p + "/" + k) + ": unknown key '" + k
                            + "' in a model entry (model, parameters)");
                }
            });
            ModelRef r = ref(doc, p + "/model");
            if (base != null && r.equals(base)) {
                continue;
            }
            out.add(new ModelEntry(r, params(doc, p + "/parameters", null), p));
        }
        return out;
    }

    /**
     * A parameters mapping; numbers, gradients and filtered lists become settings, strings go to {@code strings}
     * (only the top level may hold them: wudi's solver, rest, include, exclude); null strings: refused.
     */
    private static Map<String, ParamSetting> params(LocatedYaml doc, String pointer, Map<String, String> strings) {
        Map<String, ParamSetting> out = new LinkedHashMap<>();
        JsonNode n = doc.root().at(pointer);
        if (n.isMissingNode() || n.isNull()) {
            return out;
        }
        if (!n.isObject()) {
            throw new ConfigException(doc.where(pointer) + ": parameters is a mapping of name: value");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String p = pointer + "/" + e.getKey();
            if (e.getValue().isTextual() && strings != null) {
                strings.put(e.getKey(), e.getValue().asText());
            } else {
                out.put(e.getKey(), ParamSetting.parse(doc, p, e.getKey()));
            }
        }
        return out;
    }

    static String text(LocatedYaml doc, String pointer, boolean required) {
        JsonNode n = doc.root().at(pointer);
        if (n.isMissingNode() || n.isNull()) {
            if (required) {
                throw new ConfigException(doc.where("") + ": '" + pointer.substring(1) + "' is required");
            }
            return null;
        }
        if (!n.isTextual() && !n.isNumber()) {
            throw new ConfigException(doc.where(pointer) + ": '" + pointer.substring(pointer.lastIndexOf('/') + 1)
                    + "' must be a string");
        }
        return n.asText();
    }

    private static String dtype(LocatedYaml doc, String pointer) {
        String d = text(doc, pointer, false);
        if (d != null && !DTYPES.contains(d)) {
            throw new ConfigException(doc.where(pointer) + ": dtype '" + d + "' is not one of float32, float16,"
                    + " bfloat16");
        }
        return d == null ? null : d.replace("torch.", "");
    }

    /** tokenizer_source (base, or a model) or tokenizer: {source}; union and per-token settings are refused. */
    private static TokenizerSource tokenizer(LocatedYaml doc) {
        JsonNode root = doc.root();
        if (root.has("tokenizer_source") && root.has("tokenizer")) {
            throw new ConfigException(doc.where("/tokenizer") + ": give tokenizer_source or tokenizer, not both");
        }
        String pointer = "/tokenizer_source";
        if (root.has("tokenizer")) {
            JsonNode t = root.get("tokenizer");
            for (Iterator<String> it = t.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals("source")) {
                    throw new ConfigException(doc.where("/tokenizer/" + k) + ": tokenizer." + k + " is not supported"
                            + " (a new vocabulary built from several tokenizers); use tokenizer_source: base or a model");
                }
            }
            pointer = "/tokenizer/source";
        }
        String s = text(doc, pointer, false);
        if (s == null) {
            return null;
        }
        if (s.equals("union")) {
            throw new ConfigException(doc.where(pointer) + ": tokenizer source 'union' (a vocabulary merged from every"
                    + " model, embeddings permuted into it) is not supported; use base or one model's path");
        }
        if (s.equals("base")) {
            return TokenizerSource.BASE;
        }
        Path p = resolve(doc, s);
        if (!Files.isDirectory(p)) {
            throw new ConfigException(doc.where(pointer) + ": tokenizer source '" + s + "' is neither 'base' nor a"
                    + " model folder");
        }
        return new TokenizerSource(s, p);
    }

    static ModelRef ref(LocatedYaml doc, String pointer) {
        JsonNode n = doc.root().at(pointer);
        if (n.isObject()) {
            throw new ConfigException(doc.where(pointer) + ": give the model as a path string (PATH or PATH+LORA_PATH)");
        }
        String s = text(doc, pointer, true);
        String[] parts = s.split("\\+", -1);
        if (parts.length > 2 || parts[0].isEmpty() || (parts.length == 2 && parts[1].isEmpty())) {
            throw new ConfigException(doc.where(pointer) + ": model reference '" + s + "' is not PATH or PATH+LORA_PATH");
        }
        Path model = local(doc, pointer, parts[0]);
        Path lora = parts.length == 2 ? local(doc, pointer, parts[1]) : null;
        return new ModelRef(model, lora, s);
    }

    private static Path local(LocatedYaml doc, String pointer, String s) {
        Path p = resolve(doc, s);
        if (!Files.exists(p)) {
            String why = s.contains("@") ? " (revisions, @REV, name hub repositories; download the model and give its"
                    + " folder)" : s.matches("[\\w.-]+/[\\w.-]+") ? " (a hub id? download it and give its local folder)"
                    : "";
            throw new ConfigException(doc.where(pointer) + ": model '" + s + "' is not a local file or folder" + why);
        }
        return p;
    }

    /** A path as mergekit would take it (relative to the working directory), else relative to the config's folder. */
    static Path resolve(LocatedYaml doc, String s) {
        Path p = Path.of(s);
        if (p.isAbsolute() || Files.exists(p)) {
            return p;
        }
        Path dir = doc.file().toAbsolutePath().getParent();
        Path q = dir == null ? p : dir.resolve(s).normalize();
        return Files.exists(q) ? q : p;
    }
}
