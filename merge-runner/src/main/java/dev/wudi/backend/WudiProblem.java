package dev.wudi.backend;

import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;

/**
 * The interference problem of one weight (specification 2.2): task vectors are folded in one at a time into
 * the Gram form (C = sum w_i tau_i^T tau_i, D = sum w_i tau_i tau_i^T tau_i, K, and the sum that
 * initialises tau_m), so memory does not grow with the number of tasks.
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
}
