package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.HeadPolicy;
import dev.wudi.spec.CardPolicy;
import dev.wudi.spec.TokenizerSource;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.method.TensorCopy;
import dev.wudi.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The files of a folder output beside the weights, as a Hugging Face user expects them: the base's companion
 * files (tokenizer, generation config, ...) copied; config.json copied with torch_dtype (and dtype) set to the
 * output dtype and vocab_size to the output's vocabulary; the tokenizer a config's tokenizer_source names, else
 * that of the model that holds every added token where the vocabulary grew ({@link VocabularyRows}); a README.md
 * model card of this merge (unless --card none), never the base's card in its place (that one is quoted in ours);
 * and, under --heads save, each model's task heads in heads/model-K.safetensors.
 */
final class OutputFiles {

    /** Files transformers' tokenizers read (taken together from one checkpoint, never mixed). */
    static final Set<String> TOKENIZER_FILES = Set.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "vocab.txt", "tokenizer.model",
            "spiece.model", "sentencepiece.bpe.model", "chat_template.jinja", "chat_template.json");

    static final String CARD = "README.md";

    /** config.json fields that belong to a model's task head: its class, labels and what classifying needs. */
    private static final String[] HEAD_FIELDS = {"architectures", "id2label", "label2id", "num_labels", "problem_type",
        "finetuning_task", "pad_token_id"};

    /** A merge config's form as run, mergekit's file name. */
    static final String CONFIG_FILE = "mergekit_config.yml";

    private final MergeSpec options;
    private final MergePlan plan;
    private final Checkpoint base;
    private final List<Checkpoint> models;
    private final List<LoraAdapter> adapters;

    /** @param adapters per model, its LoRA adapter, or null for a full checkpoint */
    OutputFiles(MergeSpec options, MergePlan plan, Checkpoint base, List<Checkpoint> models,
                List<LoraAdapter> adapters) {
        this.options = options;
        this.plan = plan;
        this.base = base;
        this.models = models;
        this.adapters = adapters;
    }

    /** Whether the model card is written (a folder output only): always, but under --card none. */
    boolean writesCard() {
        return base.isFolder() && options.card() != CardPolicy.NONE;
    }

    /**
     * The tokenizer files of the model a config's tokenizer_source names, else of the model that holds every added
     * row (--vocab extend), or null where the base's stay (tokenizer_source base, --vocab base).
     */
    private List<Path> modelTokenizer() throws IOException {
        Path from;
        TokenizerSource source = options.config() != null ? options.config().tokenizer() : null;
        if (source != null) {
            if (source.isBase()) {
                return null;
            }
            from = source.folder();
        } else if (plan.tokenizerFrom() >= 0 && models.get(plan.tokenizerFrom()).isFolder()) {
            from = models.get(plan.tokenizerFrom()).path();
        } else {
            return null;
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(from)) {
            s.filter(p -> TOKENIZER_FILES.contains(p.getFileName().toString()) && Files.isRegularFile(p))
                    .sorted().forEach(out::add);
        }
        return out.isEmpty() ? null : out;
    }

    /** The files copied as they are: the base's companions, less those generated, with another tokenizer if so. */
    List<Path> companions() throws IOException {
        if (!base.isFolder()) {
            return List.of();
        }
        List<Path> tokenizer = modelTokenizer();
        List<Path> out = new ArrayList<>();
        for (Path p : base.companionFiles()) {
            String n = p.getFileName().toString();
            if (n.equals(ModelConfig.FILE) && rewritesConfig()) {
                continue;                                  // written by writeInto, with the output's dtype
            }
            if (n.equals(CARD)) {
                continue;                                  // the base's card describes the base: quoted in ours
            }
            if (tokenizer != null && TOKENIZER_FILES.contains(n)) {
                continue;
            }
            out.add(p);
        }
        if (tokenizer != null) {
            out.addAll(tokenizer);
        }
        return out;
    }

    /**
     * Whether config.json must change (a new dtype, a grown vocabulary, another model's labels); otherwise the
     * base's is copied byte for byte.
     */
    boolean rewritesConfig() {
        return plan.baseConfig().present() && (options.outDType() != null || plan.vocabSize() > 0
                || plan.heads().kind() == HeadPolicy.Kind.FROM);
    }

    /** Writes config.json, the model card and the saved heads into the output's temporary folder. */
    void writeInto(Path dir, MergeReport report) throws IOException {
        if (rewritesConfig()) {
            Files.writeString(dir.resolve(ModelConfig.FILE), config() + "\n");
        }
        if (writesCard()) {
            // without a base, the folder standing in for it is model 1, whose card is not a base's
            Files.writeString(dir.resolve(CARD), ModelCard.render(options, plan, report, base, models,
                    options.baseStandsIn() ? null : BaseCard.of(base.path())));
        }
        if (options.config() != null && options.config().normalizedYaml() != null) {
            Files.writeString(dir.resolve(CONFIG_FILE), options.config().normalizedYaml());
            if (options.config().chatTemplate() != null) {
                writeChatTemplate(dir, options.config().chatTemplate());
            }
        }
        writeHeads(dir);
    }

    /**
     * A config's chat_template: chat_template.jinja, and tokenizer_config.json's chat_template where the output has
     * one (older transformers read it there). "auto" takes the template most of the models' tokenizer_config.json
     * files hold (the first of those tied, in --model order); none: nothing is written.
     */
    private void writeChatTemplate(Path dir, String template) throws IOException {
        String text = template;
        if (template.equals("auto")) {
            Map<String, Integer> seen = new LinkedHashMap<>();
            for (Checkpoint m : models) {
                Path tc = m.path().resolve("tokenizer_config.json");
                if (m.isFolder() && Files.isRegularFile(tc)) {
                    JsonNode t = new ObjectMapper().readTree(tc.toFile()).path("chat_template");
                    if (t.isTextual()) {
                        seen.merge(t.asText(), 1, Integer::sum);
                    }
                }
            }
            text = seen.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(null);
            if (text == null) {
                return;
            }
        }
        Files.writeString(dir.resolve("chat_template.jinja"), text);
        Path tc = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(tc)) {
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            JsonNode root = json.readTree(tc.toFile());
            if (root instanceof ObjectNode o) {
                o.put("chat_template", text);
                Files.delete(tc);                          // a copy of the base's, perhaps a link: replace, not write through
                Files.writeString(tc, json.writeValueAsString(o) + "\n");
            }
        }
    }

    /** The base's config.json with the output's dtype, vocabulary and (--heads from:K) labels. */
    String config() throws IOException {
        return config(plan.heads().kind() == HeadPolicy.Kind.FROM ? plan.heads().model() - 1 : -1);
    }

    /** The base's config.json with the output's dtype and vocabulary, and model {@code withHeadOf}'s class and labels. */
    private String config(int withHeadOf) throws IOException {
        ObjectNode c = plan.baseConfig().json().deepCopy();
        if (options.outDType() != null) {
            String t = torchName(options.outDType());
            if (c.has("torch_dtype") || !c.has("dtype")) {
                c.put("torch_dtype", t);
            }
            if (c.has("dtype")) {
                c.put("dtype", t);
            }
        }
        if (plan.vocabSize() > 0) {
            if (c.has("vocab_size") || !c.path("text_config").isObject()) {
                c.put("vocab_size", plan.vocabSize());
            } else {
                ((ObjectNode) c.get("text_config")).put("vocab_size", plan.vocabSize());
            }
        }
        if (withHeadOf >= 0) {
            JsonNode k = plan.modelConfigs().get(withHeadOf).json();
            for (String f : HEAD_FIELDS) {
                if (k.has(f)) {
                    c.set(f, k.get(f).deepCopy());
                }
            }
        }
        return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(c);
    }

    static String torchName(DType d) {
        switch (d) {
            case F32: return "float32";
            case F16: return "float16";
            case BF16: return "bfloat16";
            default: return d.name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * heads/: per model K, model-K.safetensors (its task-head tensors, bytes as they are, under the model's own names),
     * model-K.config.json (the output's config.json with model K's class and labels, where K has a config.json), and a
     * README.md that says which is which and how to load the merged body with one of them.
     */
    void writeHeads(Path dir) throws IOException {
        Map<Integer, Map<String, TensorRef>> byModel = new TreeMap<>();
        for (MergePlan.Extra x : plan.extras()) {
            if (x.saved()) {
                byModel.computeIfAbsent(x.model(), k -> new LinkedHashMap<>()).put(x.name(), x.ref());
            }
        }
        if (byModel.isEmpty()) {
            return;
        }
        Path heads = Files.createDirectories(dir.resolve("heads"));
        for (Map.Entry<Integer, Map<String, TensorRef>> e : byModel.entrySet()) {
            List<TensorSpec> specs = new ArrayList<>();
            e.getValue().forEach((n, r) -> specs.add(new TensorSpec(n, r.info().dtype(), r.info().shape())));
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put("wudi_source_model", models.get(e.getKey()).path().toString());
            Path file = heads.resolve(MergePlanner.headsFile(e.getKey()));
            try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, meta)) {
                for (TensorRef r : e.getValue().values()) {
                    TensorCopy.bytes(r, w::write);
                }
                w.finish();
            }
            if (headConfig(e.getKey())) {
                Files.writeString(heads.resolve(HeadsReadme.configFile(e.getKey())), config(e.getKey()) + "\n");
            }
        }
        Files.writeString(heads.resolve(CARD), new HeadsReadme(options, plan, models, adapters).render(byModel,
                this::headConfig));
    }

    /** Whether model K's head gets a config.json: K's and the base's are there to make it from. */
    private boolean headConfig(int model) {
        return plan.baseConfig().present() && plan.modelConfigs().get(model).present();
    }
}
