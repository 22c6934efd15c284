package dev.wudi.cuda.reference;

import dev.wudi.cuda.WudiKernels;

/**
 * Host references of the reducing kernels (squared_norm.cu, interference_loss.cu, and the loss terms of
 * fused_adam.cu): the same double-precision terms summed in index order ({@link #squaredNorm},
 * {@link #interferenceLoss}: to double rounding of the kernels' sums) and in the kernels' own order
 * ({@link #squaredNormInKernelOrder}, {@link #interferenceLossInKernelOrder}: the GPU's bits exactly).
 */
public final class ReductionReference {

    private static final int THREADS = WudiKernels.THREADS;

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

    /** sum_k (P_k - 2 D_k) tau_k = <tau C, tau> - 2 <tau, D> with P = tau C (specification 2.2, L without K). */
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

    /** {@link #squaredNorm} in the kernel's order: the bits squared_norm.cu and wudi_reduce_partials give. */
    public static double squaredNormInKernelOrder(float[] x) {
        return inKernelOrder(x.length, k -> (double) x[k] * x[k]);
    }

    /**
     * {@link #interferenceLoss} in the kernels' order: the bits of interference_loss.cu, and of fused_adam.cu's loss
     * partials when P, D, tau are the step's inputs; each after wudi_reduce_partials.
     */
    public static double interferenceLossInKernelOrder(float[] p, float[] d, float[] tau) {
        if (p.length != d.length || p.length != tau.length) {
            throw new IllegalArgumentException("P, D, tau lengths differ: " + p.length + ", " + d.length + ", " + tau.length);
        }
        return inKernelOrder(tau.length, k -> ((double) p[k] - 2.0 * (double) d[k]) * (double) tau[k]);
    }

    /**
     * The sum of term(0 .. n) as the reducing kernels form it (cuda-kernels/wudi_common.cuh, and its C twin
     * wudi_ref_partials in check/wudi_reference.h): reductionGrid(n) blocks of 256 threads; thread tid sums its
     * grid-stride slice of float4 groups, a group's four terms added together and then to the running sum, then its
     * element of the scalar tail; each block folds its threads in the shared-memory tree into one partial; one more
     * block folds the partials the same way (wudi_reduce_partials). Java's double arithmetic rounds every operation,
     * as the fatbin does with --fmad=false.
     */
    static double inKernelOrder(int n, java.util.function.IntToDoubleFunction term) {
        int grid = WudiKernels.reductionGrid(n);
        double[] partials = new double[grid];
        double[] slots = new double[THREADS];
        long n4 = n / 4;
        long stride = (long) grid * THREADS;
        for (int b = 0; b < grid; b++) {
            for (int t = 0; t < THREADS; t++) {
                long tid = (long) b * THREADS + t;
                double acc = 0;
                for (long k = tid; k < n4; k += stride) {
                    int e = (int) (4 * k);
                    acc += term.applyAsDouble(e) + term.applyAsDouble(e + 1) + term.applyAsDouble(e + 2)
                            + term.applyAsDouble(e + 3);
                }
                if (4 * n4 + tid < n) {
                    acc += term.applyAsDouble((int) (4 * n4 + tid));
                }
                slots[t] = acc;
            }
            partials[b] = blockSum(slots);
        }
        for (int t = 0; t < THREADS; t++) {                 // wudi_reduce_partials: one block over the partials
            double acc = 0;
            for (int k = t; k < grid; k += THREADS) {
                acc += partials[k];
            }
            slots[t] = acc;
        }
        return blockSum(slots);
    }

    /** wudi_block_sum: the shared-memory tree over 256 slots (slots is overwritten). */
    private static double blockSum(double[] slots) {
        for (int half = THREADS / 2; half > 0; half >>= 1) {
            for (int t = 0; t < half; t++) {
                slots[t] += slots[t + half];
            }
        }
        return slots[0];
    }
}
