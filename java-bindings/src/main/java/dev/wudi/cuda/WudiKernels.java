package dev.wudi.cuda;

import dev.wudi.adam.AdamStepScalars;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUfunction;

/**
 * Typed launchers for the kernels of cuda-kernels/, one method per kernel, arguments named and typed as
 * in the .cu signatures. Buffers are float32 unless the name says bf16/f16 (raw 16-bit patterns). Every
 * launch is asynchronous on the given stream. Shapes: n is the element count of a flattened (rows, cols)
 * row-major matrix.
 */
public final class WudiKernels {

    /** Threads per block of every kernel (WUDI_THREADS in wudi_common.cuh). */
    public static final int THREADS = 256;
    /** Most blocks of a reducing grid (WUDI_MAX_BLOCKS); partial buffers hold this many doubles. */
    public static final int MAX_BLOCKS = 1024;
    /** Bytes of a partials buffer. */
    public static final long PARTIALS_BYTES = 8L * MAX_BLOCKS;
    /** Most blocks of an element-wise grid; the grid-stride loops cover the rest. */
    static final int MAX_ELEMENTWISE_BLOCKS = 65535;

    private final KernelModule module;

    public WudiKernels(KernelModule module) {
        this.module = module;
    }

    /**
     * Blocks of a reducing kernel over n floats, a function of n alone so that the per-block partials, and
     * therefore the reduced value, are the same bits on every run and every GPU.
     */
    public static int reductionGrid(long n) {
        long vectors = (n + 3) / 4;
        return (int) Math.max(1, Math.min(MAX_BLOCKS, (vectors + THREADS - 1) / THREADS));
    }

    /** Blocks of an element-wise kernel touching {@code items} work items (vectors or elements). */
    public static int elementwiseGrid(long items) {
        return (int) Math.max(1, Math.min(MAX_ELEMENTWISE_BLOCKS, (items + THREADS - 1) / THREADS));
    }

    // ---- TaskVector: tau = W_i - W_0 (task_vector.cu) ----

    /** tau (n) = wi (n) - w0 (n), all float32. */
    public void taskVectorF32(DeviceBuffer wi, DeviceBuffer w0, DeviceBuffer tau, long n, CudaStream stream) {
        need(wi, 4 * n, w0, 4 * n, tau, 4 * n);
        launch("wudi_task_vector_f32", elementwiseGrid((n + 3) / 4), stream, ptr(wi), ptr(w0), ptr(tau), i64(n));
    }

    /** tau (n) float32 = widen(wi) - widen(w0), wi and w0 (n) bfloat16. */
    public void taskVectorBf16(DeviceBuffer wi, DeviceBuffer w0, DeviceBuffer tau, long n, CudaStream stream) {
        need(wi, 2 * n, w0, 2 * n, tau, 4 * n);
        launch("wudi_task_vector_bf16", elementwiseGrid((n + 7) / 8), stream, ptr(wi), ptr(w0), ptr(tau), i64(n));
    }

    /** tau (n) float32 = widen(wi) - widen(w0), wi and w0 (n) IEEE binary16. */
    public void taskVectorF16(DeviceBuffer wi, DeviceBuffer w0, DeviceBuffer tau, long n, CudaStream stream) {
        need(wi, 2 * n, w0, 2 * n, tau, 4 * n);
        launch("wudi_task_vector_f16", elementwiseGrid((n + 7) / 8), stream, ptr(wi), ptr(w0), ptr(tau), i64(n));
    }

    // ---- dtype conversion (convert.cu) ----

    public void f32ToBf16(DeviceBuffer src, DeviceBuffer dst, long n, CudaStream stream) {
        need(src, 4 * n, dst, 2 * n, dst, 2 * n);
        launch("wudi_f32_to_bf16", elementwiseGrid(n), stream, ptr(src), ptr(dst), i64(n));
    }

    public void f32ToF16(DeviceBuffer src, DeviceBuffer dst, long n, CudaStream stream) {
        need(src, 4 * n, dst, 2 * n, dst, 2 * n);
        launch("wudi_f32_to_f16", elementwiseGrid(n), stream, ptr(src), ptr(dst), i64(n));
    }

    public void bf16ToF32(DeviceBuffer src, DeviceBuffer dst, long n, CudaStream stream) {
        need(src, 2 * n, dst, 4 * n, dst, 4 * n);
        launch("wudi_bf16_to_f32", elementwiseGrid(n), stream, ptr(src), ptr(dst), i64(n));
    }

    public void f16ToF32(DeviceBuffer src, DeviceBuffer dst, long n, CudaStream stream) {
        need(src, 2 * n, dst, 4 * n, dst, 4 * n);
        launch("wudi_f16_to_f32", elementwiseGrid(n), stream, ptr(src), ptr(dst), i64(n));
    }

    // ---- deterministic reductions (squared_norm.cu, interference_loss.cu, reduce_partials.cu) ----

    /** First pass of ||x||_F^2: writes reductionGrid(n) partials; returns that count. */
    public int squaredNormPartials(DeviceBuffer x, long n, DeviceBuffer partials, CudaStream stream) {
        int grid = reductionGrid(n);
        need(x, 4 * n, partials, 8L * grid, partials, 8L * grid);
        launch("wudi_squared_norm_partials", grid, stream, ptr(x), i64(n), ptr(partials));
        return grid;
    }

    /** First pass of sum_k (P_k - 2 D_k) tau_k: writes reductionGrid(n) partials; returns that count. */
    public int interferenceLossPartials(DeviceBuffer p, DeviceBuffer d, DeviceBuffer tau, long n,
                                        DeviceBuffer partials, CudaStream stream) {
        int grid = reductionGrid(n);
        need(p, 4 * n, d, 4 * n, tau, 4 * n);
        need(partials, 8L * grid, partials, 8L * grid, partials, 8L * grid);
        launch("wudi_interference_loss_partials", grid, stream, ptr(p), ptr(d), ptr(tau), i64(n), ptr(partials));
        return grid;
    }

    /** out[slot] = sum of partials[0 .. count) in a fixed order (one block). */
    public void reducePartials(DeviceBuffer partials, int count, DeviceBuffer out, int slot, CudaStream stream) {
        if (count < 1 || count > MAX_BLOCKS || slot < 0) {
            throw new IllegalArgumentException("reducePartials: count " + count + " (1.." + MAX_BLOCKS + "), slot " + slot);
        }
        need(partials, 8L * count, out, 8L * (slot + 1L), out, 8L * (slot + 1L));
        launch("wudi_reduce_partials", 1, stream, ptr(partials), i32(count), ptr(out), i32(slot));
    }

    // ---- SYRK's triangle to a full symmetric matrix (symmetrize.cu) ----

    /** g (n, n): copies the column-major upper triangle onto the lower one. */
    public void symmetrizeFromUpper(DeviceBuffer g, int n, CudaStream stream) {
        long nn = (long) n * n;
        need(g, 4 * nn, g, 4 * nn, g, 4 * nn);
        launch("wudi_symmetrize_from_upper", elementwiseGrid(nn), stream, ptr(g), i32(n));
    }

    // ---- FusedAdam (fused_adam.cu) ----

    /**
     * One Adam step on tau (n) from P = tau C and D (n), updating m, v, tau in place. If lossPartials is not
     * null it receives reductionGrid(n) partials of sum_k (P_k - 2 D_k) tau_k at the step's start.
     * Returns the number of partials written (0 when lossPartials is null).
     */
    public int fusedAdam(DeviceBuffer p, DeviceBuffer d, DeviceBuffer m, DeviceBuffer v, DeviceBuffer tau, long n,
                         AdamStepScalars scalars, DeviceBuffer lossPartials, CudaStream stream) {
        int grid = reductionGrid(n);
        need(p, 4 * n, d, 4 * n, m, 4 * n);
        need(v, 4 * n, tau, 4 * n, tau, 4 * n);
        Pointer partials;
        if (lossPartials != null) {
            need(lossPartials, 8L * grid, lossPartials, 8L * grid, lossPartials, 8L * grid);
            partials = ptr(lossPartials);
        } else {
            partials = Pointer.to(new long[] {0L});   // nullptr
        }
        launch("wudi_fused_adam", grid, stream, ptr(p), ptr(d), ptr(m), ptr(v), ptr(tau), i64(n),
                Pointer.to(scalars.toKernelArgument()), partials);
        return lossPartials == null ? 0 : grid;
    }

    /**
     * FusedAdam on fixed buffers, launched once per step without building anything per launch: the kernel's
     * parameters are arrays made here once, whose values cuLaunchKernel reads at each launch, so a step costs the
     * launch alone. The caller makes the device current (the step loop does, once).
     */
    public final class AdamSteps {

        private final CUfunction function;
        private final long n;
        private final int grid;
        private final float[] scalars = new float[AdamStepScalars.KERNEL_FLOATS];
        private final long[] partials = {0L};
        private final long partialsAddress;
        private final Pointer params;

        private AdamSteps(DeviceBuffer p, DeviceBuffer d, DeviceBuffer m, DeviceBuffer v, DeviceBuffer tau, long n,
                          DeviceBuffer lossPartials) {
            this.n = n;
            this.grid = reductionGrid(n);
            need(p, 4 * n, d, 4 * n, m, 4 * n);
            need(v, 4 * n, tau, 4 * n, lossPartials, 8L * grid);
            this.function = module.function("wudi_fused_adam");
            this.partialsAddress = lossPartials.address();
            this.params = Pointer.to(Pointer.to(new long[] {p.address()}), Pointer.to(new long[] {d.address()}),
                    Pointer.to(new long[] {m.address()}), Pointer.to(new long[] {v.address()}),
                    Pointer.to(new long[] {tau.address()}), Pointer.to(new long[] {n}), Pointer.to(scalars),
                    Pointer.to(partials));
        }

        /**
         * One step with {@code s}; with {@code withLoss} the loss partials of the step's start are written too.
         * Returns the number of partials written (0 without the loss).
         */
        public int launch(AdamStepScalars s, boolean withLoss, CudaStream stream) {
            s.writeKernelArgument(scalars);
            partials[0] = withLoss ? partialsAddress : 0L;   // nullptr: the kernel skips the loss
            Driver.launch(function, "wudi_fused_adam", grid, THREADS, stream.handle(), params);
            return withLoss ? grid : 0;
        }

        public long elements() {
            return n;
        }
    }

    /** A {@link AdamSteps} on these buffers (P, D, m, v, tau of n floats; partials of reductionGrid(n) doubles). */
    public AdamSteps adamSteps(DeviceBuffer p, DeviceBuffer d, DeviceBuffer m, DeviceBuffer v, DeviceBuffer tau, long n,
                               DeviceBuffer lossPartials) {
        return new AdamSteps(p, d, m, v, tau, n, lossPartials);
    }

    // ---- plumbing ----

    private void launch(String name, int grid, CudaStream stream, Pointer... args) {
        module.device().makeCurrent();
        Driver.launch(module.function(name), name, grid, THREADS, stream.handle(), Pointer.to(args));
    }

    private static Pointer ptr(DeviceBuffer b) {
        return Pointer.to(new NativePointerObject[] {b.pointer()});
    }

    private static Pointer i64(long v) {
        return Pointer.to(new long[] {v});
    }

    private static Pointer i32(int v) {
        return Pointer.to(new int[] {v});
    }

    private static void need(DeviceBuffer a, long aBytes, DeviceBuffer b, long bBytes, DeviceBuffer c, long cBytes) {
        a.checkRange(aBytes);
        b.checkRange(bBytes);
        c.checkRange(cBytes);
    }
}
