package dev.wudi.backend.cpu;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.linalg.NativeFloats;
import dev.wudi.solver.Adam;

/**
 * The state of one Adam optimisation on the CPU and its fused element-wise pass (specification 2.1 and 2.2): after
 * each step's sgemm P = tau_m C, {@link #step} forms g = 2 (P - D) and updates m, v and tau_m in one pass,
 * one block of rows per thread. tau_m and P live in native memory, where OpenBLAS reads and writes them.
 *
 * <p>Two implementations with the same bits: {@link NativeAdamPass} (cuda-kernels/cpu/fused_adam_cpu.c, all
 * state native, 32 bytes of memory traffic per element) and {@link HeapAdamPass} (Java, for a jar built
 * without a C compiler; it copies P in and tau_m out, 48 bytes per element).
 */
interface AdamPass extends AutoCloseable {

    /**
     * Elements per chunk when the loss is summed in the same pass: each chunk's loss terms are read just
     * before that chunk is updated, and the chunks' sums are added in order (both passes, so the losses
     * agree to the bit). 6 arrays x 16 KiB stay in a core's L2 cache.
     */
    int CHUNK = 4096;

    /** tau_m, the sgemm's left operand; starts at sum_i tau_i. */
    NativeFloats tau();

    /** P, the sgemm's output. */
    NativeFloats p();

    /**
     * One Adam step from P = tau_m C. With withLoss, returns &lt;P - 2D, tau_m&gt; at the step's start (the
     * loss without K, specification 2.2); otherwise 0.
     */
    double step(AdamStepScalars s, boolean withLoss);

    /** &lt;P - 2D, tau_m&gt; for the current P and tau_m, without a step. */
    double lossTerms();

    /** tau_m as a heap array. */
    float[] tauArray();

    @Override
    void close();
}
