package dev.wudi.model;

import dev.wudi.format.TensorInfo;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Decides every tensor's {@link TensorRole} and {@link Layout} for one architecture: from the base's
 * config.json where it has one (model_type decides Conv1D and fused-expert layouts, {@link Architectures}),
 * else from name rules, and always after the user's --layout overrides. Each decision carries its source, so
 * that `wudi plan` can show why a c_attn is optimised transposed.
 */
public final class TensorClassifier {

    /** What a tensor is, how its matrices lie, and what decided the layout. */
    public record Classification(TensorRole role, Layout layout, String source) {
    }

    /** Task heads (transformers' head module names across families; any rank). */
    static final Pattern HEAD = Pattern.compile("(^|\\.)(lm_head|score|classifier|pre_classifier|qa_outputs|cls|head|heads"
            + "|pooler|vocab_projector|vocab_transform|vocab_layer_norm|embed_out|multiple_choice_head|seq_relationship"
            + ")(\\.|$)");

    /** Lookup tables (rank >= 2). */
    static final Pattern EMBEDDING = Pattern.compile("(?i)(embed|(^|\\.)(wte|wpe)(\\.|$)|position|token_type"
            + "|(^|\\.)shared\\.weight$|relative_attention_bias)");

    /** Normalisation parameters. */
    static final Pattern NORM = Pattern.compile("(?i)(norm|(^|\\.)ln(_\\w+|\\d*)(\\.|$)|running_mean|running_var)");

    /** Non-learned buffers transformers registers (and old checkpoints saved). */
    static final Pattern BUFFER = Pattern.compile("(^|\\.)(inv_freq|position_ids|masked_bias|num_batches_tracked"
            + "|_float_tensor)$");

    /** GPT-2's causal-mask buffer attn.bias [1, 1, n, n] (transformers ignores it on load). */
    static final Pattern CAUSAL_MASK = Pattern.compile("(^|\\.)(attn|crossattention)\\.bias$");

    private final ModelConfig config;
    private final List<LayoutOverride> overrides;
    /** For a checkpoint without a known model_type: whether its c_attn/c_fc are stored [in, out]. */
    private final boolean gpt2StyleConv1D;

    /**
     * @param config    the base's config.json (may be absent)
     * @param overrides --layout, first match wins
     * @param tensors   the base's tensors (the name rule for an unknown architecture looks at c_attn's shape)
     */
    public TensorClassifier(ModelConfig config, List<LayoutOverride> overrides, Collection<TensorInfo> tensors) {
        this.config = config;
        this.overrides = List.copyOf(overrides);
        this.gpt2StyleConv1D = config.modelType().isEmpty() && looksLikeConv1D(tensors);
    }

    /**
     * GPT-2's Conv1D c_attn is [d, 3d] and c_fc [d, 4d]: wider than tall. An nn.Linear of the same name
     * (gpt_bigcode's c_attn [d + 2 kv, d], gpt_neo's c_fc [4d, d]) is taller than wide.
     */
    private static boolean looksLikeConv1D(Collection<TensorInfo> tensors) {
        for (String module : new String[] {"attn.c_attn.weight", "mlp.c_fc.weight"}) {
            for (TensorInfo t : tensors) {
                if (t.rank() == 2 && (t.name().equals(module) || t.name().endsWith("." + module))) {
                    return t.shape()[1] > t.shape()[0];
                }
            }
        }
        return false;
    }

    public Classification classify(TensorInfo t) {
        TensorRole role = role(t);
        for (LayoutOverride o : overrides) {
            if (o.regex().matcher(t.name()).find() && o.layout().fits(t.rank())) {
                return new Classification(role, o.layout(), o.source());
            }
        }
        Layout l = layout(t, role);
        return new Classification(role, l, source(t, role, l));
    }

    /** The role and layout of a tensor of a checkpoint without config.json, without overrides. */
    public static Classification plain(TensorInfo t) {
        return new TensorClassifier(ModelConfig.absent(), java.util.List.of(), java.util.List.of(t)).classify(t);
    }

    static TensorRole role(TensorInfo t) {
        String n = t.name();
        if (!t.dtype().mergeable() || BUFFER.matcher(n).find() || (t.rank() >= 3 && CAUSAL_MASK.matcher(n).find())) {
            return TensorRole.BUFFER;
        }
        if (HEAD.matcher(n).find()) {
            return TensorRole.HEAD;
        }
        if (t.rank() >= 2 && EMBEDDING.matcher(n).find()) {
            return TensorRole.EMBEDDING;
        }
        if (t.rank() <= 2 && NORM.matcher(n).find()) {
            return TensorRole.NORM;
        }
        if (n.endsWith(".bias") || n.endsWith("_bias")) {
            return TensorRole.BIAS;
        }
        return t.rank() >= 2 ? TensorRole.LINEAR : TensorRole.OTHER;
    }

    private Layout layout(TensorInfo t, TensorRole role) {
        if (t.rank() < 2) {
            return Layout.VECTOR;
        }
        if (t.rank() == 2) {
            return role == TensorRole.LINEAR && conv1D(t.name()) ? Layout.IN_OUT : Layout.OUT_IN;
        }
        if (t.rank() == 3 && role == TensorRole.LINEAR && Architectures.FUSED_EXPERTS.matcher(t.name()).find()) {
            return Architectures.EXPERTS_IN_OUT_MODEL_TYPES.contains(config.modelType())
                    ? Layout.EXPERTS_IN_OUT : Layout.EXPERTS_OUT_IN;
        }
        return Layout.CONV;
    }

    private boolean conv1D(String name) {
        String type = config.modelType();
        if (type.equals("clvp")) {
            return Architectures.CLVP_CONV1D_MODULE.matcher(name).find();
        }
        if (Architectures.CONV1D_MODEL_TYPES.contains(type)) {
            return Architectures.CONV1D_MODULE.matcher(name).find();
        }
        return type.isEmpty() && gpt2StyleConv1D && Architectures.CONV1D_MODULE.matcher(name).find();
    }

    /** What decided layout l of t, in words for the plan. */
    private String source(TensorInfo t, TensorRole role, Layout l) {
        if (t.rank() < 2) {
            return "";
        }
        String type = config.modelType();
        if (role != TensorRole.LINEAR) {
            return l == Layout.CONV ? "rank " + t.rank() : "nn.Linear / nn.Embedding";
        }
        if (l == Layout.CONV) {
            return "rank " + t.rank() + ": [out, in*k...]";
        }
        if (!type.isEmpty()) {
            if (l == Layout.IN_OUT) {
                return "config.json model_type " + type + ": Conv1D";
            }
            if (l == Layout.EXPERTS_IN_OUT) {
                return "config.json model_type " + type + ": experts used as x @ W";
            }
            if (l == Layout.EXPERTS_OUT_IN) {
                return "config.json model_type " + type + ": experts used through F.linear";
            }
            return "config.json model_type " + type + ": nn.Linear";
        }
        if (l == Layout.IN_OUT) {
            return "name rule: GPT-2 Conv1D (c_attn/c_fc wider than tall, no config.json)";
        }
        if (l == Layout.EXPERTS_OUT_IN) {
            return "default for fused experts without config.json (F.linear)";
        }
        return "default: nn.Linear (no config.json)";
    }
}
