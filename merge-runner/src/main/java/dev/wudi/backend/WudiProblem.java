package dev.wudi.backend;

import dev.wudi.format.DType;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import java.nio.ByteBuffer;

/**
 * The interference problem of one weight (specification 2.2): task vectors are folded in one at a time into
 * the Gram form (C = sum w_i tau_i^T tau_i, D = sum w_i tau_i tau_i^T tau_i, K, and the sum that
 * initialises tau_m), so memory does not grow with the number of tasks.
 *
 * <p>The last group of operations is optional: a backend offers each where its {@link Backend#capabilities()} list
 * the {@link Capability} named; elsewhere they refuse or say no. A caller asks the backend's capabilities, so one
 * interface describes every backend and a new backend declares what it can do in one place.
 */
public interface WudiProblem extends AutoCloseable {

    /**
     * Adds task vector tau_i = W_i - W_0, row-major [rows, cols], float32. The array is only read
     * during the call; the caller may reuse it afterwards.
     *
     * @throws IllegalArgumentException if its length is not rows*cols
     */
    void addTaskVector(float[] tau);

    /**
     * As {@link #addTaskVector(float[])}, saying how precisely the task vector is known: {@code elementNoise} is the
     * size (absolute, per element) of the rounding its inputs carry, e.g. u * (|W_i| + |W_0|) for W_i - W_0 read from
     * checkpoints of unit roundoff u. The exact solver does not resolve directions that noise of that size alone
     * could create ({@link dev.wudi.solver.spectral.ExactMinimiser}); other solvers ignore it.
     */
    default void addTaskVector(float[] tau, double elementNoise) {
        addTaskVector(tau);
    }

    /** Number of task vectors added so far. */
    int taskCount();

    /**
     * Number of the task vectors added that were exactly zero. Such a vector would have weight
     * 1 / ||tau_i||^2 = infinity (NaN in the official code); it gets weight 0 instead, contributes nothing
     * to the loss and is still part of the starting sum (which it does not change).
     */
    int zeroTaskCount();

    /**
     * Runs PyTorch-exact Adam from tau_m = sum_i tau_i (specification 2.1) with the gradient in one GEMM per step.
     *
     * @param listener told after every step; may be null
     * @return tau_m after the last step, with the loss before the first and after the last step
     * @throws IllegalStateException if no task vector was added
     */
    WudiResult solveAdam(AdamConfig config, StepListener listener);

    /**
     * Solves with any solver (specification 2.1 and 2.3): Adam goes to {@link #solveAdam}; a backend that offers
     * the spectral solvers (exact, flow, spectral) overrides this method.
     *
     * @throws UnsupportedOperationException if this backend has no such solver
     */
    default WudiResult solve(SolverSpec spec, StepListener listener) {
        if (spec instanceof SolverSpec.Adam adam) {
            return solveAdam(adam.config(), listener);
        }
        throw new UnsupportedOperationException("the " + spec.name() + " solver is not available on this backend;"
                + " use --device cpu or --solver adam");
    }

    /**
     * Tells the problem, before any task vector is added, which solver will run, so that it accumulates what that
     * solver needs: the CPU's exact solver without a ridge accumulates C and D in double
     * ({@link dev.wudi.solver.spectral.ExactMinimiser}). A backend that does not care ignores it; a problem told of
     * one solver may refuse another.
     */
    default void expect(SolverSpec spec) {
    }

    /**
     * As {@link #expect(SolverSpec)}, knowing how many task vectors will come: a filter with a knee near float32's
     * numerical zero also needs C in double ({@link dev.wudi.solver.spectral.ExactMinimiser#needsDouble}).
     */
    default void expect(SolverSpec spec, int tasks) {
        expect(spec);
    }

    /** Frees native or device memory. Idempotent. */
    @Override
    void close();

    // ---- optional operations: offered where the backend lists the Capability named ----

    /**
     * {@link Capability#TASK_VECTORS_FROM_CHECKPOINT}: sets W_0, rows*cols little-endian elements of {@code dtype}
     * (F32, F16 or BF16), read from the buffer's position to its limit during the call. Call once, before
     * {@link #addFineTuned}. The problem then forms tau_i = W_i - W_0 itself (specification 1), widening F16/BF16 to
     * float32 on the way (specification 2.1); the result is the same as {@code addTaskVector(widen(W_i) - widen(W_0))},
     * bit for bit.
     *
     * @throws IllegalArgumentException if the dtype is not mergeable or the byte count is not rows*cols*size
     * @throws UnsupportedOperationException where the backend does not offer it
     */
    default void setBase(ByteBuffer w0, DType dtype) {
        throw notOffered(Capability.TASK_VECTORS_FROM_CHECKPOINT);
    }

    /**
     * {@link Capability#TASK_VECTORS_FROM_CHECKPOINT}: adds tau_i = W_i - W_0, W_i given like the base and in the
     * base's dtype.
     *
     * @throws IllegalStateException if no base was set
     * @throws IllegalArgumentException if the byte count differs from the base's
     * @throws UnsupportedOperationException where the backend does not offer it
     */
    default void addFineTuned(ByteBuffer wi) {
        throw notOffered(Capability.TASK_VECTORS_FROM_CHECKPOINT);
    }

    /**
     * {@link Capability#MERGED_OUTPUT}: asks the next solve to form W = W_0 + tau_m where tau_m lies (float32 add,
     * specification 2), encoded in {@code out} (round to nearest even, NaN kept NaN), instead of returning tau_m.
     * The bytes equal, bit for bit, {@code Floats.encode(out, w0[j] + tauM[j])} of the host path for every finite
     * value. Call after the task vectors were added and before the solve.
     *
     * @return false (and nothing changes) where this problem cannot: the backend does not offer it, no W_0 was given
     *         through setBase, the dtype is not F32/F16/BF16, or the encoded tensor would not fit one ByteBuffer
     */
    default boolean mergeOnDevice(DType out) {
        return false;
    }

    /**
     * {@link Capability#MERGED_OUTPUT}: the merged weight of the last solve after {@link #mergeOnDevice} said true:
     * rows*cols little-endian elements of the requested dtype, from position 0 to the limit. That solve's
     * {@link WudiResult#tauM()} is empty; its losses are as always.
     *
     * @throws IllegalStateException if no such solve ran
     */
    default ByteBuffer mergedWeights() {
        throw new IllegalStateException("no merged weights: mergeOnDevice did not say yes before the last solve");
    }

    /**
     * {@link Capability#ASYNCHRONOUS}: queues the whole solve of {@link #solveAdam} (no per-step listener) and returns
     * at once, so the caller can read and add the NEXT tensor's task vectors (whose uploads then overlap this solve)
     * before collecting this result. The problem must stay open until {@link Pending#await()} has returned; no task
     * vector may be added meanwhile.
     *
     * @throws IllegalStateException if no task vector was added
     * @throws UnsupportedOperationException where the backend does not offer it
     */
    default Pending solveAdamAsync(AdamConfig config) {
        throw notOffered(Capability.ASYNCHRONOUS);
    }

    /** A solve queued by {@link #solveAdamAsync}. */
    interface Pending {
        /** Blocks until the solve is done; returns the same result solveAdam would have. Call once. */
        WudiResult await();

        /**
         * As {@link #await()}, telling {@code listener} of the steps while it waits, as the device finishes them (a
         * few steps at a time: never a wait per step). The solve was queued without a listener, so it computed the
         * loss at none of the steps: each is told with NaN. A listener that throws ends the wait with its exception;
         * the problem's close then waits for the queued work. This default tells nothing.
         */
        default WudiResult await(StepListener listener) {
            return await();
        }
    }

    private static UnsupportedOperationException notOffered(Capability c) {
        return new UnsupportedOperationException("this backend does not offer " + c + " (see Backend.capabilities())");
    }
}
