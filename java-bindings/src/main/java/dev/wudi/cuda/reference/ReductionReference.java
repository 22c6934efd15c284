package dev.wudi.cuda.reference;

/**
 * Host reference of the reducing kernels (squared_norm.cu, interference_loss.cu, and the loss terms of
 * fused_adam.cu): the same double-precision terms summed in index order. The kernels sum in a fixed tree
 * instead, so the two agree to double rounding (relative 1e-12 or so), not bit for bit.
 */
public final class ReductionReference {

    private ReductionReference() {
    }

    /** ||x||_F^2 = sum_k x_k^2, products and sum in double. */
    public static double squaredNorm(float[] x) {
        double acc = 0;
        for (float v : x) {
            acc += (double) v * v;
        }
        return acc;
    }

    /** sum_k (P_k - 2 D_k) tau_k = <tau C, tau> - 2 <tau, D> with P = tau C (SPEC 2.2, L without K). */
    public static double interferenceLoss(float[] p, float[] d, float[] tau) {
        if (p.length != d.length || p.length != tau.length) {
            throw new IllegalArgumentException("P, D, tau lengths differ: " + p.length + ", " + d.length + ", " + tau.length);
        }
        double acc = 0;
        for (int k = 0; k < tau.length; k++) {
            acc += ((double) p[k] - 2.0 * (double) d[k]) * (double) tau[k];
        }
        return acc;
    }
}
