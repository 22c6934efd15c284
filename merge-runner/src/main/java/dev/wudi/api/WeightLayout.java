package dev.wudi.api;

import dev.wudi.model.Layout;

/**
 * How a weight's matrices lie in its array, so that WUDI optimises the paper's [out, in] matrix whatever the
 * framework stored. Row-major (C order) throughout.
 */
public enum WeightLayout {
    /** [out, in]: torch.nn.Linear, and most frameworks. */
    OUT_IN(Layout.OUT_IN),
    /** [in, out]: GPT-2's Conv1D (and JAX/Flax kernels); optimised as its transpose, returned as stored. */
    IN_OUT(Layout.IN_OUT),
    /** [experts, out, in]: a stack of experts, each optimised as its own layer. */
    EXPERTS_OUT_IN(Layout.EXPERTS_OUT_IN),
    /** [experts, in, out]: a stack of experts stored transposed. */
    EXPERTS_IN_OUT(Layout.EXPERTS_IN_OUT),
    /** [out, in, k...]: a convolution, optimised as [out, in * k...]. */
    CONV(Layout.CONV);

    private final Layout layout;

    WeightLayout(Layout layout) {
        this.layout = layout;
    }

    Layout layout() {
        return layout;
    }
}
