package dev.wudi.merge;

import dev.wudi.format.TensorInfo;
import dev.wudi.method.MergeMethod;
import java.util.regex.Pattern;

/**
 * Which tensors the chosen method computes; all others follow the rest policy. Without --include the
 * method's default scope applies; --include replaces the scope's name rule, and --exclude always wins.
 * Only floating tensors (F32, F16, BF16) can be selected; WUDI further needs rank >= 2.
 */
public final class TensorSelection {

    /**
     * Names that look like embeddings, output heads or classifier/score heads: excluded from WUDI by
     * default because they are lookup tables or task-specific heads, not shared linear maps.
     */
    public static final String DEFAULT_WUDI_EXCLUDE =
            "(?i)(embed|wte|wpe|lm_head|position|token_type|(^|\\.)(classifier|score|head|heads|cls)(\\.|$))";

    private static final Pattern WUDI_EXCLUDE = Pattern.compile(DEFAULT_WUDI_EXCLUDE);

    private final MergeMethod.Scope scope;
    private final Pattern include;
    private final Pattern exclude;
    private final boolean needsMatrix;

    /**
     * @param include regex (find anywhere in the name) or null for the method's default scope
     * @param exclude regex or null
     */
    public TensorSelection(MergeMethod.Scope scope, Pattern include, Pattern exclude, boolean needsMatrix) {
        this.scope = scope;
        this.include = include;
        this.exclude = exclude;
        this.needsMatrix = needsMatrix;
    }

    public boolean selects(TensorInfo t) {
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
                || (t.rank() == 2 && !WUDI_EXCLUDE.matcher(t.name()).find());
    }
}
