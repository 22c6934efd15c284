package dev.wudi.method;

import java.util.List;

/**
 * A merge method as data (name, reference, parameters with defaults) plus the scope it applies to by
 * default. Which rule computes a selected tensor is decided by the merge plan.
 */
public record MergeMethod(String name, String summary, String reference, List<MethodParam> params,
                          Scope defaultScope) {

    /** Which tensors a method touches when the user gives no --include. */
    public enum Scope {
        /** 2-D floating linear weights, minus embeddings, lm_head and classifier/score heads (WUDI). */
        LINEAR_WEIGHTS,
        /** Every floating tensor (element-wise methods). */
        ALL_FLOATING
    }

    public double defaultOf(String param) {
        for (MethodParam p : params) {
            if (p.name().equals(param)) {
                return p.defaultValue();
            }
        }
        throw new IllegalArgumentException("method " + name + " has no parameter " + param);
    }

    public boolean hasParam(String param) {
        return params.stream().anyMatch(p -> p.name().equals(param));
    }
}
