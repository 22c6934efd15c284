package dev.wudi.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Small checkpoints with the tensor names, shapes and config.json fields transformers uses for real
 * architectures, so end-to-end tests meet the layouts users' checkpoints have (Conv1D stored [in, out],
 * grouped-query attention, tied and untied heads, per-expert and stacked MoE weights, classifier heads)
 * without downloading any. Values are seeded Gaussians at std 0.02, drawn per tensor name (see
 * {@link SeededInit}); every builder returns a new model and leaves its inputs alone.
 */
public final class HubModels {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** GPT-2 small's widths; only depth, vocabulary and positions shrink. */
    public static final int GPT2_EMBD = 768;
    public static final int GPT2_HEADS = 12;
    /** GPT-2's <|endoftext|>, which GPT2ForSequenceClassification fine-tunes use as the pad token. */
    public static final int GPT2_PAD = 50256;
    public static final int DISTILBERT_DIM = 768;
    public static final int DISTILBERT_HEADS = 12;
    public static final int BERT_POSITIONS = 512;
    /** Attention shape of the MoE builder: 4 query heads sharing 2 key/value heads. */
    public static final int QWEN2_MOE_HEADS = 4;
    public static final int QWEN2_MOE_KV_HEADS = 2;
    /** Matches the layer segment of a tensor name in any of these architectures: h.3., layer.3., layers.3. */
    private static final Pattern LAYER = Pattern.compile("^((?:[^.]+\\.)*?(?:h|layer|layers)\\.\\d+\\.)");
    private static final Pattern VOCAB =
            Pattern.compile("(?:^|\\.)(?:embed_tokens|wte|word_embeddings|lm_head|vocab_projector)\\.(?:weight|bias)$");

    private HubModels() {
    }

    /** Collects tensors in file order, drawing each from the model seed. */
    private static final class Builder {
        final long seed;
        final LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();

        Builder(long seed) {
            this.seed = seed;
        }

        void weight(String name, long... shape) {
            t.put(name, SeededInit.weight(seed, name, shape));
        }

        /** A LayerNorm's or RMSNorm's weight, and its bias unless rms. */
        void norm(String prefix, long size, boolean rms) {
            t.put(prefix + ".weight", SeededInit.normScale(seed, prefix + ".weight", size));
            if (!rms) {
                weight(prefix + ".bias", size);
            }
        }

        /** An nn.Linear, weight [out, in] (+ bias [out]). */
        void linear(String prefix, long out, long in, boolean bias) {
            weight(prefix + ".weight", out, in);
            if (bias) {
                weight(prefix + ".bias", out);
            }
        }

        /** A GPT-2 Conv1D: weight stored [in, out], bias [out]. */
        void conv1d(String prefix, long in, long out) {
            weight(prefix + ".weight", in, out);
            weight(prefix + ".bias", out);
        }
    }

    private static ObjectNode config(String modelType, String architecture) {
        ObjectNode c = JSON.createObjectNode();
        c.put("model_type", modelType);
        c.putArray("architectures").add(architecture);
        c.put("torch_dtype", "float32");
        return c;
    }

    // ---------------------------------------------------------------- GPT-2

    /**
     * GPT2Model at GPT-2 small widths with the bare names of openai-community/gpt2's own file (wte.weight,
     * h.0.attn.c_attn.weight, ...); attention and MLP weights are Conv1D, stored [in, out].
     */
    public static Model gpt2(int layers, int vocab, int positions, long seed) {
        return gpt2(layers, vocab, positions, GPT2_EMBD, GPT2_HEADS, seed);
    }

    /** GPT2Model as {@link #gpt2(int, int, int, long)}, at width {@code embd} with {@code heads} heads. */
    public static Model gpt2(int layers, int vocab, int positions, int embd, int heads, long seed) {
        Builder b = new Builder(seed);
        long d = embd;
        b.weight("wte.weight", vocab, d);
        b.weight("wpe.weight", positions, d);
        for (int i = 0; i < layers; i++) {
            String h = "h." + i + ".";
            b.norm(h + "ln_1", d, false);
            b.conv1d(h + "attn.c_attn", d, 3 * d);
            b.conv1d(h + "attn.c_proj", d, d);
            b.norm(h + "ln_2", d, false);
            b.conv1d(h + "mlp.c_fc", d, 4 * d);
            b.conv1d(h + "mlp.c_proj", 4 * d, d);
        }
        b.norm("ln_f", d, false);
        ObjectNode c = config("gpt2", "GPT2LMHeadModel");
        c.put("n_embd", d);
        c.put("n_layer", layers);
        c.put("n_head", heads);
        c.put("n_positions", positions);
        c.put("n_ctx", positions);
        c.put("vocab_size", vocab);
        c.putNull("n_inner");
        c.put("activation_function", "gelu_new");
        c.put("layer_norm_epsilon", 1e-5);
        c.put("initializer_range", SeededInit.STD);
        c.put("tie_word_embeddings", true);
        return new Model(c, b.t);
    }

    /**
     * What a full fine-tune with the adapter's change would save from GPT2ForSequenceClassification: the
     * body under "transformer.", each LoRA target plus its dense delta (Conv1D layout, so transposed), and
     * the adapter's trained score.weight. Adapter layers the base lacks are left out.
     */
    public static Model gpt2SequenceClassifier(Model base, PeftAdapter adapter) {
        Model body = renamePrefix(base, "", "transformer.");
        Model m = withAdapter(body, adapter);
        Tensor score = m.tensor("score.weight");
        m.config().putArray("architectures").add("GPT2ForSequenceClassification");
        putLabels(m.config(), score.dim(0));
        m.config().put("pad_token_id", GPT2_PAD);
        return m;
    }

    // ---------------------------------------------------------------- Llama

    /** LlamaForCausalLM; k_proj/v_proj are [kvHeads * headDim, hidden] (grouped-query attention). */
    public static Model llama(int layers, int hidden, int intermediate, int heads, int kvHeads, int vocab,
                              boolean tied, long seed) {
        if (hidden % heads != 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("hidden " + hidden + ", heads " + heads + ", kv heads " + kvHeads
                    + ": heads must divide hidden and kv heads must divide heads");
        }
        long kv = (long) kvHeads * (hidden / heads);
        Builder b = new Builder(seed);
        b.weight("model.embed_tokens.weight", vocab, hidden);
        for (int i = 0; i < layers; i++) {
            String l = "model.layers." + i + ".";
            attention(b, l + "self_attn.", hidden, kv, false);
            b.linear(l + "mlp.gate_proj", intermediate, hidden, false);
            b.linear(l + "mlp.up_proj", intermediate, hidden, false);
            b.linear(l + "mlp.down_proj", hidden, intermediate, false);
            b.norm(l + "input_layernorm", hidden, true);
            b.norm(l + "post_attention_layernorm", hidden, true);
        }
        b.norm("model.norm", hidden, true);
        if (!tied) {
            b.weight("lm_head.weight", vocab, hidden);
        }
        ObjectNode c = config("llama", "LlamaForCausalLM");
        c.put("hidden_size", hidden);
        c.put("intermediate_size", intermediate);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        c.put("vocab_size", vocab);
        c.put("hidden_act", "silu");
        c.put("rms_norm_eps", 1e-5);
        c.put("tie_word_embeddings", tied);
        return new Model(c, b.t);
    }

    private static void attention(Builder b, String p, long hidden, long kv, boolean qkvBias) {
        b.linear(p + "q_proj", hidden, hidden, qkvBias);
        b.linear(p + "k_proj", kv, hidden, qkvBias);
        b.linear(p + "v_proj", kv, hidden, qkvBias);
        b.linear(p + "o_proj", hidden, hidden, false);
    }

    // ---------------------------------------------------------------- Qwen2-MoE

    /**
     * Qwen2MoeForCausalLM in the hub layout: a router (mlp.gate), per-expert 2-D gate/up/down weights, a
     * shared expert with its sigmoid gate, qkv biases, untied lm_head. hidden must be a multiple of 4.
     */
    public static Model qwen2Moe(int layers, int hidden, int experts, int moeIntermediate, int sharedIntermediate,
                                 int vocab, long seed) {
        if (hidden % QWEN2_MOE_HEADS != 0) {
            throw new IllegalArgumentException("hidden " + hidden + " is not a multiple of " + QWEN2_MOE_HEADS);
        }
        long kv = (long) QWEN2_MOE_KV_HEADS * (hidden / QWEN2_MOE_HEADS);
        Builder b = new Builder(seed);
        b.weight("model.embed_tokens.weight", vocab, hidden);
        for (int i = 0; i < layers; i++) {
            String l = "model.layers." + i + ".";
            attention(b, l + "self_attn.", hidden, kv, true);
            b.linear(l + "mlp.gate", experts, hidden, false);
            for (int e = 0; e < experts; e++) {
                String x = l + "mlp.experts." + e + ".";
                b.linear(x + "gate_proj", moeIntermediate, hidden, false);
                b.linear(x + "up_proj", moeIntermediate, hidden, false);
                b.linear(x + "down_proj", hidden, moeIntermediate, false);
            }
            b.linear(l + "mlp.shared_expert.gate_proj", sharedIntermediate, hidden, false);
            b.linear(l + "mlp.shared_expert.up_proj", sharedIntermediate, hidden, false);
            b.linear(l + "mlp.shared_expert.down_proj", hidden, sharedIntermediate, false);
            b.linear(l + "mlp.shared_expert_gate", 1, hidden, false);
            b.norm(l + "input_layernorm", hidden, true);
            b.norm(l + "post_attention_layernorm", hidden, true);
        }
        b.norm("model.norm", hidden, true);
        b.weight("lm_head.weight", vocab, hidden);
        ObjectNode c = config("qwen2_moe", "Qwen2MoeForCausalLM");
        c.put("hidden_size", hidden);
        c.put("intermediate_size", sharedIntermediate);
        c.put("num_experts", experts);
        c.put("moe_intermediate_size", moeIntermediate);
        c.put("shared_expert_intermediate_size", sharedIntermediate);
        c.put("num_experts_per_tok", Math.min(2, experts));
        c.put("decoder_sparse_step", 1);
        c.putArray("mlp_only_layers");
        c.put("norm_topk_prob", false);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", QWEN2_MOE_HEADS);
        c.put("num_key_value_heads", QWEN2_MOE_KV_HEADS);
        c.put("vocab_size", vocab);
        c.put("hidden_act", "silu");
        c.put("rms_norm_eps", 1e-6);
        c.put("tie_word_embeddings", false);
        return new Model(c, b.t);
    }

    /**
     * The same weights with each layer's experts stacked: experts.gate_up_proj [E, 2I, H] (gate rows then
     * up rows) and experts.down_proj [E, H, I] with model_type qwen2_moe (transformers v5); with inOut,
     * every expert matrix transposed ([E, H, 2I], [E, I, H]) and model_type gpt_oss. When H == 2I the
     * shapes cannot tell the two apart, so a merge must take the layout rule from model_type.
     */
    public static Model fusedExperts(Model m, boolean inOut) {
        return ExpertFusion.fuse(m, inOut);
    }

    // ---------------------------------------------------------------- BERT, DistilBERT

    /** BertModel under "bert." (as BertFor* classes save it), 512 positions, 2 token types. */
    public static Model bert(int layers, int hidden, int intermediate, int vocab, long seed) {
        Builder b = new Builder(seed);
        String e = "bert.embeddings.";
        b.weight(e + "word_embeddings.weight", vocab, hidden);
        b.weight(e + "position_embeddings.weight", BERT_POSITIONS, hidden);
        b.weight(e + "token_type_embeddings.weight", 2, hidden);
        b.norm(e + "LayerNorm", hidden, false);
        for (int i = 0; i < layers; i++) {
            String l = "bert.encoder.layer." + i + ".";
            b.linear(l + "attention.self.query", hidden, hidden, true);
            b.linear(l + "attention.self.key", hidden, hidden, true);
            b.linear(l + "attention.self.value", hidden, hidden, true);
            b.linear(l + "attention.output.dense", hidden, hidden, true);
            b.norm(l + "attention.output.LayerNorm", hidden, false);
            b.linear(l + "intermediate.dense", intermediate, hidden, true);
            b.linear(l + "output.dense", hidden, intermediate, true);
            b.norm(l + "output.LayerNorm", hidden, false);
        }
        b.linear("bert.pooler.dense", hidden, hidden, true);
        ObjectNode c = config("bert", "BertModel");
        c.put("hidden_size", hidden);
        c.put("num_hidden_layers", layers);
        c.put("intermediate_size", intermediate);
        // BERT's 64-wide heads where the width allows; the count only matters to a forward pass
        c.put("num_attention_heads", hidden % 64 == 0 ? hidden / 64 : 1);
        c.put("vocab_size", vocab);
        c.put("type_vocab_size", 2);
        c.put("max_position_embeddings", BERT_POSITIONS);
        c.put("hidden_act", "gelu");
        c.put("layer_norm_eps", 1e-12);
        return new Model(c, b.t);
    }

    /**
     * DistilBertModel at DistilBERT's width (dim 768, 12 heads, 512 positions) under "distilbert.", the
     * names the real adapters target; the FFN width and vocabulary are parameters to keep files small
     * (the real ones are 3072 and 30522).
     */
    public static Model distilbert(int layers, int hiddenDim, int vocab, long seed) {
        Builder b = new Builder(seed);
        long d = DISTILBERT_DIM;
        b.weight("distilbert.embeddings.word_embeddings.weight", vocab, d);
        b.weight("distilbert.embeddings.position_embeddings.weight", BERT_POSITIONS, d);
        b.norm("distilbert.embeddings.LayerNorm", d, false);
        for (int i = 0; i < layers; i++) {
            String l = "distilbert.transformer.layer." + i + ".";
            for (String p : new String[] {"q_lin", "k_lin", "v_lin", "out_lin"}) {
                b.linear(l + "attention." + p, d, d, true);
            }
            b.norm(l + "sa_layer_norm", d, false);
            b.linear(l + "ffn.lin1", hiddenDim, d, true);
            b.linear(l + "ffn.lin2", d, hiddenDim, true);
            b.norm(l + "output_layer_norm", d, false);
        }
        ObjectNode c = config("distilbert", "DistilBertModel");
        c.put("dim", d);
        c.put("n_layers", layers);
        c.put("n_heads", DISTILBERT_HEADS);
        c.put("hidden_dim", hiddenDim);
        c.put("vocab_size", vocab);
        c.put("max_position_embeddings", BERT_POSITIONS);
        c.put("activation", "gelu");
        c.put("sinusoidal_pos_embds", false);
        return new Model(c, b.t);
    }

    /** DistilBertForSequenceClassification's head: pre_classifier [dim, dim] then classifier [classes, dim]. */
    public static Model withDistilbertHead(Model m, int classes, long seed) {
        Builder b = new Builder(seed);
        b.linear("pre_classifier", DISTILBERT_DIM, DISTILBERT_DIM, true);
        Model r = m.copy();
        r.tensors().putAll(b.t);
        return withClassifier(r, "classifier", classes, seed);
    }

    /**
     * A DistilBERT fine-tune from a real adapter: base + its q_lin/v_lin deltas, with its saved
     * pre_classifier/classifier replacing or adding the head. Labels follow the classifier, if any.
     */
    public static Model distilbertSequenceClassifier(Model base, PeftAdapter adapter) {
        Model m = withAdapter(base, adapter);
        if (m.tensors().containsKey("classifier.weight")) {
            m.config().putArray("architectures").add("DistilBertForSequenceClassification");
            putLabels(m.config(), m.tensor("classifier.weight").dim(0));
        }
        return m;
    }

    // ---------------------------------------------------------------- heads

    /**
     * A classification head name.weight [classes, hidden] and name.bias [classes], with id2label/label2id
     * and the architecture's *ForSequenceClassification class where known.
     */
    public static Model withClassifier(Model m, String name, int classes, long seed) {
        Model r = m.copy();
        Builder b = new Builder(seed);
        b.linear(name, classes, hiddenSize(m.config()), true);
        r.tensors().putAll(b.t);
        String arch = switch (r.config().path("model_type").asText()) {
            case "bert" -> "BertForSequenceClassification";
            case "distilbert" -> "DistilBertForSequenceClassification";
            case "gpt2" -> "GPT2ForSequenceClassification";
            case "llama" -> "LlamaForSequenceClassification";
            case "qwen2_moe" -> "Qwen2MoeForSequenceClassification";
            default -> null;
        };
        if (arch != null) {
            r.config().putArray("architectures").add(arch);
        }
        putLabels(r.config(), classes);
        return r;
    }

    /**
     * What a fine-tune saved from the architecture's *ForSequenceClassification holds: the body under the class's
     * base_model_prefix (GPT-2's "transformer.", where the base is the bare GPT2Model file; Llama's and BERT's
     * already have it) and its head, {@code score.weight} [classes, hidden] without a bias for GPT-2 and Llama (with
     * pad_token_id, which they need to classify a batch), {@code classifier} with a bias for BERT and DistilBERT
     * (DistilBERT's pre_classifier too), with the class and its labels in config.json.
     */
    public static Model sequenceClassifier(Model m, int classes, long seed) {
        String type = m.config().path("model_type").asText();
        switch (type) {
            case "gpt2", "llama" -> {
                Model r = type.equals("gpt2") ? renamePrefix(m, "", "transformer.") : m.copy();
                r.tensors().remove("lm_head.weight");
                Builder b = new Builder(seed);
                b.linear("score", classes, hiddenSize(m.config()), false);
                r.tensors().putAll(b.t);
                r.config().putArray("architectures").add(type.equals("gpt2") ? "GPT2ForSequenceClassification"
                        : "LlamaForSequenceClassification");
                putLabels(r.config(), classes);
                r.config().put("pad_token_id", 0);
                return r;
            }
            case "distilbert" -> {
                return withDistilbertHead(m, classes, seed);
            }
            default -> {
                return withClassifier(m, "classifier", classes, seed);
            }
        }
    }

    /** id2label/label2id as save_pretrained writes them (num_labels is derived from these on load). */
    private static void putLabels(ObjectNode c, int classes) {
        ObjectNode id2label = c.putObject("id2label");
        ObjectNode label2id = c.putObject("label2id");
        for (int i = 0; i < classes; i++) {
            id2label.put(Integer.toString(i), "LABEL_" + i);
            label2id.put("LABEL_" + i, i);
        }
    }

    private static int hiddenSize(ObjectNode c) {
        for (String k : new String[] {"hidden_size", "n_embd", "dim"}) {
            if (c.has(k)) {
                return c.get(k).asInt();
            }
        }
        throw new IllegalArgumentException("config has none of hidden_size, n_embd, dim: " + c);
    }

    // ---------------------------------------------------------------- fine-tunes and edits

    /**
     * base + the deltas, by tensor name; tensors without a delta stay bit-identical to the base (so an
     * empty or partial map gives a fine-tune that left those layers alone).
     */
    public static Model fineTune(Model base, Map<String, Tensor> deltas) {
        Model r = base.copy();
        deltas.forEach((name, d) -> r.tensors().put(name, base.tensor(name).plus(d)));
        return r;
    }

    /** A synthetic fine-tune: base + {@link #lowRankDeltas}. */
    public static Model fineTune(Model base, String regex, int rank, double scale, long seed) {
        return fineTune(base, lowRankDeltas(base, regex, rank, scale, seed));
    }

    /**
     * Seeded random deltas of rank at most {@code rank} (per expert for 3-D tensors), entries about
     * {@code scale}, for every 2-D/3-D tensor whose name contains a match of regex (anchor it with ^ or $
     * to be exact). Fails when nothing matches, so a mistyped regex cannot make a no-op fine-tune.
     */
    public static Map<String, Tensor> lowRankDeltas(Model base, String regex, int rank, double scale, long seed) {
        return LowRankDeltas.random(base, regex, rank, scale, seed);
    }

    /**
     * base + the adapter's dense deltas on module.weight, and its full tensors (heads, modules_to_save)
     * put in, replacing the base's where the names meet. A delta for a layer the base does not have (a
     * 12-layer adapter on a 1-layer test base) is left out; one for any other missing weight, or of the
     * wrong shape, is an error, since it means the names or layouts disagree.
     */
    public static Model withAdapter(Model base, PeftAdapter adapter) {
        Map<String, Tensor> deltas = new LinkedHashMap<>();
        for (String module : adapter.modules()) {
            String weight = module + ".weight";
            if (base.tensors().containsKey(weight)) {
                deltas.put(weight, adapter.denseDelta(module));
            } else if (!layerMissing(base, module)) {
                throw new IllegalArgumentException(adapter.dir() + ": adapter module " + module
                        + " has no weight " + weight + " in the base");
            }
        }
        Model r = fineTune(base, deltas);
        r.tensors().putAll(adapter.fullTensors());
        return r;
    }

    private static boolean layerMissing(Model m, String module) {
        Matcher x = LAYER.matcher(module + ".");
        return x.find() && m.tensors().keySet().stream().noneMatch(n -> n.startsWith(x.group(1)));
    }

    /**
     * Grows every vocabulary-indexed tensor (word embeddings, an untied lm_head) by {@code added} rows of
     * new random values at the end, keeping the old rows, and updates vocab_size: what adding special
     * tokens and resize_token_embeddings do to a fine-tune.
     */
    public static Model withExtraVocabRows(Model m, int added, long seed) {
        int vocab = m.config().path("vocab_size").asInt(-1);
        Model r = m.copy();
        int grown = 0;
        for (Map.Entry<String, Tensor> e : m.tensors().entrySet()) {
            Tensor t = e.getValue();
            if (VOCAB.matcher(e.getKey()).find() && t.dim(0) == vocab) {
                long[] shape = t.shape().clone();
                shape[0] += added;
                Tensor extra = SeededInit.weight(seed, e.getKey() + "#rows", shape);
                System.arraycopy(t.data(), 0, extra.data(), 0, t.numel());
                r.tensors().put(e.getKey(), extra);
                grown++;
            }
        }
        if (grown == 0) {
            throw new IllegalArgumentException("no vocabulary tensor with " + vocab + " rows");
        }
        r.config().put("vocab_size", vocab + added);
        return r;
    }

    /** Renames every tensor starting with {@code remove} to start with {@code add} instead; "" adds a prefix. */
    public static Model renamePrefix(Model m, String remove, String add) {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        m.tensors().forEach((name, t) ->
                out.put(name.startsWith(remove) ? add + name.substring(remove.length()) : name, t));
        if (out.size() != m.tensors().size()) {
            throw new IllegalArgumentException("renaming '" + remove + "' -> '" + add + "' makes names collide");
        }
        return new Model(m.config().deepCopy(), out);
    }
}
