package dev.wudi.model;

import java.util.Locale;

/**
 * How a stored tensor holds its linear maps, and so how WUDI sees it in the paper's orientation. The loss
 * ||(tau_m - tau_i) tau_i^T||_F^2 (specification 2) is written for the nn.Linear layout [out, in]: tau_i^T tau_i is
 * the [in, in] Gram matrix of the inputs the layer sees. A weight stored [in, out] (GPT-2's Conv1D) must be
 * optimised as its transpose, and a stack of expert matrices [E, out, in] as E separate layers.
 */
public enum Layout {
    /** nn.Linear: [out, in]. */
    OUT_IN("out-in"),
    /** transformers' Conv1D (GPT-2, GPT, ImageGPT, Decision Transformer, CLVP's decoder MLP): [in, out]. */
    IN_OUT("in-out"),
    /** Fused experts used through F.linear (transformers v5 Mixtral, Qwen-MoE, DeepSeek-V3, OLMoE): [E, out, in]. */
    EXPERTS_OUT_IN("experts-out-in"),
    /** Fused experts used as x @ W (GPT-OSS, Llama 4): [E, in, out]. */
    EXPERTS_IN_OUT("experts-in-out"),
    /** A convolution [out, in, k...]: one linear map of the flattened patch, [out, in*k*k] (specification 3). */
    CONV("conv"),
    /** Not a matrix (a vector or a scalar). */
    VECTOR("vector");

    private final String label;

    Layout(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** Parses a label as --layout takes it: out-in, in-out, experts-out-in, experts-in-out, conv. */
    public static Layout parse(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        for (Layout l : values()) {
            if (l != VECTOR && l.label.equals(t)) {
                return l;
            }
        }
        throw new IllegalArgumentException("unknown layout '" + s + "' (choose from out-in, in-out, experts-out-in,"
                + " experts-in-out, conv)");
    }

    /** True where the stored matrix is the transpose of the paper's [out, in]. */
    public boolean transposed() {
        return this == IN_OUT || this == EXPERTS_IN_OUT;
    }

    /** True where the first dimension counts independent matrices (experts). */
    public boolean stacked() {
        return this == EXPERTS_OUT_IN || this == EXPERTS_IN_OUT;
    }

    /** Whether a tensor of this rank can have this layout. */
    public boolean fits(int rank) {
        switch (this) {
            case OUT_IN:
            case IN_OUT:
                return rank == 2;
            case EXPERTS_OUT_IN:
            case EXPERTS_IN_OUT:
                return rank == 3;
            case CONV:
                return rank >= 3;
            default:
                return rank < 2;
        }
    }

    /**
     * The matrices WUDI optimises in a tensor of this shape, in the paper's orientation.
     *
     * @throws IllegalArgumentException where the shape does not fit this layout
     */
    public Matrices matrices(long[] shape) {
        if (!fits(shape.length)) {
            throw new IllegalArgumentException("a tensor of rank " + shape.length + " cannot have layout " + label);
        }
        switch (this) {
            case OUT_IN:
                return new Matrices(1, shape[0], shape[1], false);
            case IN_OUT:
                return new Matrices(1, shape[1], shape[0], true);
            case EXPERTS_OUT_IN:
                return new Matrices(shape[0], shape[1], shape[2], false);
            case EXPERTS_IN_OUT:
                return new Matrices(shape[0], shape[2], shape[1], true);
            case CONV: {
                long cols = 1;
                for (int i = 1; i < shape.length; i++) {
                    cols *= shape[i];
                }
                return new Matrices(1, shape[0], cols, false);
            }
            default:
                throw new IllegalArgumentException("a vector holds no matrix");
        }
    }

    /**
     * Where a tensor's linear maps lie: {@code count} matrices, each stored as {@code rows*cols} contiguous
     * elements, each the paper's [rows = out, cols = in] or, where {@code transposed}, stored as its transpose
     * [cols, rows].
     */
    public record Matrices(long count, long rows, long cols, boolean transposed) {

        /** Elements of one matrix. */
        public long size() {
            return rows * cols;
        }

        /** "[2304, 768] (stored transposed)", "8 x [64, 32]". */
        @Override
        public String toString() {
            String m = "[" + rows + ", " + cols + "]";
            return (count > 1 ? count + " x " : "") + m + (transposed ? " (stored transposed)" : "");
        }
    }
}
