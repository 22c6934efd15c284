package dev.wudi.api;

import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;

/**
 * How WUDI finds the merged task vector tau_m of a layer (specification 2). Immutable and thread-safe.
 *
 * <ul>
 *   <li>{@link #adam()}: the paper's optimisation, Adam from tau_m = sum_i tau_i at lr 1e-5 for 300 steps;
 *       results match the paper's PyTorch code to float32 rounding.</li>
 *   <li>{@link #exact(double)}: the minimiser of the interference loss in closed form (with an optional ridge).</li>
 *   <li>{@link #flow(double)}: where Adam's gradient flow from the sum reaches after a given time, in closed form.</li>
 *   <li>{@link #spectral()}: the default spectral filter (the flow at a time chosen from the spectrum).</li>
 * </ul>
 * The closed forms need one eigendecomposition per layer (LAPACK on the CPU, cuSOLVER on a GPU).
 */
public final class Solver {

    private final SolverSpec spec;

    private Solver(SolverSpec spec) {
        this.spec = spec;
    }

    /**
     * The paper's Adam: lr 1e-5, 300 steps, betas (0.9, 0.999), eps 1e-8.
     *
     * @return the paper's solver
     */
    public static Solver adam() {
        return new Solver(new SolverSpec.Adam(AdamConfig.paper()));
    }

    /**
     * Adam with another learning rate or number of steps (betas and eps as the paper's).
     *
     * @param lr         learning rate, &gt; 0
     * @param iterations steps, &gt;= 0
     * @return Adam with these settings
     * @throws IllegalArgumentException for a non-positive or non-finite lr, or negative iterations
     */
    public static Solver adam(double lr, int iterations) {
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("Adam's lr must be a positive number, got " + lr);
        }
        if (iterations < 0) {
            throw new IllegalArgumentException("Adam's iterations must be >= 0, got " + iterations);
        }
        return new Solver(new SolverSpec.Adam(AdamConfig.paper().withLr((float) lr).withIterations(iterations)));
    }

    /**
     * The exact minimiser (no ridge).
     *
     * @return the exact minimiser D C^+
     */
    public static Solver exact() {
        return exact(0);
    }

    /**
     * The exact minimiser with ridge rho added to the eigenvalues of C ({@code --solver exact --ridge}).
     *
     * @param ridge rho &gt;= 0 (0: the pseudo-inverse)
     * @return the exact minimiser D (C + rho I)^-1
     * @throws IllegalArgumentException for a negative or non-finite ridge
     */
    public static Solver exact(double ridge) {
        if (!(ridge >= 0) || Double.isInfinite(ridge)) {
            throw new IllegalArgumentException("ridge must be >= 0, got " + ridge);
        }
        return new Solver(new SolverSpec.Exact(ridge));
    }

    /**
     * The gradient flow from the sum of task vectors to the data-free default time (`--solver flow`).
     *
     * @return the flow at the default time
     */
    public static Solver flow() {
        return new Solver(new SolverSpec.Flow(Double.NaN));
    }

    /**
     * The gradient flow d tau / dt = -grad L from the sum of task vectors, stopped at {@code time} ({@code --flow-time}).
     *
     * @param time the time t &gt; 0
     * @return the flow stopped at t
     * @throws IllegalArgumentException for a non-positive or non-finite time
     */
    public static Solver flow(double time) {
        if (!(time > 0) || Double.isInfinite(time)) {
            throw new IllegalArgumentException("flow time must be a positive number, got " + time);
        }
        return new Solver(new SolverSpec.Flow(time));
    }

    /**
     * The default spectral filter, as `wudi merge --solver spectral`.
     *
     * @return the default spectral filter
     */
    public static Solver spectral() {
        return new Solver(SolverSpec.Spectral.defaults());
    }

    /** The solver as the merge report describes it ("adam lr 1.0E-5, 300 steps", "exact minimiser D C^+", ...). */
    @Override
    public String toString() {
        return spec.describe();
    }

    SolverSpec spec() {
        return spec;
    }
}
