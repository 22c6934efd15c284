package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import dev.wudi.format.TensorInfo;
import dev.wudi.method.MergeMethod;
import dev.wudi.model.Layout;
import dev.wudi.model.TensorClassifier;
import dev.wudi.model.TensorRole;
import java.util.regex.Pattern;

/**
 * Which tensors the chosen method computes; all others follow the rest policy. Without --include the method's
 * default scope applies: for WUDI, the linear weights of the body (role {@link TensorRole#LINEAR}: nn.Linear
 * and Conv1D matrices and stacks of expert matrices, not embeddings, heads or convolutions); for the element-wise
 * methods every floating tensor. --include replaces the scope's rule, and --exclude always wins. Only floating
 * tensors (F32, F16, BF16) can be selected; WUDI further needs rank >= 2.
 */
public final class TensorSelection {

    /** What the default WUDI scope leaves out, for --help: embeddings and heads by name (see TensorClassifier). */
    public static final String DEFAULT_WUDI_EXCLUDE =
            "embeddings (embed, wte, wpe, position, token_type), heads (lm_head, score, classifier, pre_classifier,"
                    + " qa_outputs, cls, head, pooler), norms, biases, buffers and convolutions";

    private final MergeMethod.Scope scope;
    private final Pattern include;
    private final Pattern exclude;
    private final boolean needsMatrix;

    /**
     * @param include regex (find anywhere in the name) or null for the method's default scope
     * @param exclude regex or null
     */
    /** The tensors a merge's method takes: its default scope, narrowed or widened by --include and --exclude. */
    public static TensorSelection of(dev.wudi.spec.MergeSpec o) {
        return new TensorSelection(o.method().defaultScope(), o.include(), o.exclude(),
                o.method() == dev.wudi.method.MergeMethods.WUDI);
    }

    public TensorSelection(MergeMethod.Scope scope, Pattern include, Pattern exclude, boolean needsMatrix) {
        this.scope = scope;
        this.include = include;
        this.exclude = exclude;
        this.needsMatrix = needsMatrix;
    }

    /** As {@link #selects(TensorInfo, TensorRole, Layout)} with the role and layout an nn.Linear model gives. */
    public boolean selects(TensorInfo t) {
        TensorClassifier.Classification c = TensorClassifier.plain(t);
        return selects(t, c.role(), c.layout());
    }

    public boolean selects(TensorInfo t, TensorRole role, Layout layout) {
        if (!t.dtype().mergeable() || t.numel() == 0) {
            return false;
        }
        if (needsMatrix && t.rank() < 2) {
            return false;
        }
        if (exclude != null && exclude.matcher(t.name()).find()) {
            return false;
        }
        if (include != null) {
            return include.matcher(t.name()).find();
        }
        return scope == MergeMethod.Scope.ALL_FLOATING
                || (role == TensorRole.LINEAR && layout != Layout.CONV && layout != Layout.VECTOR);
    }

    /** Whether --include or --exclude was given (a plan says so). */
    public boolean hasPatterns() {
        return include != null || exclude != null;
    }
}
