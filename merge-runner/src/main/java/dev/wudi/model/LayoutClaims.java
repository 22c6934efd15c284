package dev.wudi.model;

import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.format.TensorInfo;
import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * config.json's layout claims checked against the shapes they imply, before any tensor is optimised: a model_type
 * decides whether GPT-2-named modules are Conv1D ([in, out]) or nn.Linear ([out, in]), and the width (n_embd,
 * hidden_size) fixes one side of each: c_attn, q_attn and c_fc read the residual stream (in = width), the MLP's c_proj
 * writes it (out = width). A weight whose width sits on the other side was saved in the other layout (a GPT-2
 * config over nn.Linear weights, say); optimised as claimed it would be transposed, so it is refused naming the
 * tensor, both shapes and the fix. Layouts given with --layout are the user's word and not checked; the attention's
 * square c_proj cannot tell.
 */
public final class LayoutClaims {

    /** The GPT-2-named modules whose one side is the width: group 1 the module. */
    private static final Pattern MODULE = Pattern.compile("(?:^|\\.)(attn\\.c_attn|attn\\.q_attn|crossattention\\.c_attn"
            + "|crossattention\\.q_attn|mlp\\.c_fc|mlp\\.c_proj)\\.weight$");

    private LayoutClaims() {
    }

    /**
     * @param classifier the base's classifier (config.json and --layout)
     * @param tensors    the base's tensors
     * @throws CheckpointException naming the first tensor whose shape contradicts its claimed layout
     */
    public static void check(ModelConfig config, TensorClassifier classifier, Collection<TensorInfo> tensors) {
        long width = config.hiddenSize();
        if (!config.present() || width <= 0) {
            return;
        }
        for (TensorInfo t : tensors) {
            Matcher m = MODULE.matcher(t.name());
            if (t.rank() != 2 || !m.find()) {
                continue;
            }
            TensorClassifier.Classification c = classifier.classify(t);
            if (!c.source().startsWith("config.json") || (c.layout() != Layout.IN_OUT && c.layout() != Layout.OUT_IN)) {
                continue;
            }
            boolean readsStream = !m.group(1).equals("mlp.c_proj");
            boolean inOut = c.layout() == Layout.IN_OUT;
            // the side that must be the width: [in, out] puts in first, [out, in] second
            int side = readsStream == inOut ? 0 : 1;
            long[] s = t.shape();
            if (s[side] != width && s[1 - side] == width) {
                long[] claimed = {s[1], s[0]};
                throw new CheckpointException(config.file() + " says model_type " + config.modelType() + ", whose "
                        + m.group(1) + " is " + (inOut ? "a Conv1D stored [in, out]" : "an nn.Linear stored [out, in]")
                        + " and so " + shape(claimed) + " at width " + width + ", but " + t.name() + " is "
                        + t.shapeString() + " (" + (inOut ? "nn.Linear's [out, in]" : "Conv1D's [in, out]")
                        + "): it would be optimised transposed; correct config.json, or give --layout '"
                        + m.group(1).substring(m.group(1).indexOf('.') + 1) + "=" + (inOut ? "out-in" : "in-out")
                        + "' for each such module");
            }
        }
    }

    private static String shape(long[] s) {
        return "[" + s[0] + ", " + s[1] + "]";
    }
}
