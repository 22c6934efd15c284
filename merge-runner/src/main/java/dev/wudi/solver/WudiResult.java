package dev.wudi.solver;

import java.util.Map;

/**
 * The merged task vector of one weight and the interference loss L(tau_m) before the first and after
 * the last Adam step (for the spectral solvers: at the sum of task vectors and at the solution), never negative.
 *
 * @param details what the solver decided for this tensor, for the report (e.g. "flow_time", "rank_used",
 *                "eigen_seconds"); empty for plain Adam
 */
public record WudiResult(float[] tauM, double lossBefore, double lossAfter, int steps, Map<String, Double> details) {

    public WudiResult {
        details = Map.copyOf(details);
        // L is a sum of squares; <tau C, tau> - 2 <tau, D> + K can come out a few ulps below zero near the minimum
        lossBefore = nonNegative(lossBefore);
        lossAfter = nonNegative(lossAfter);
    }

    /** A loss computed by cancellation, clamped to the zero a sum of squares cannot go below (NaN kept). */
    public static double nonNegative(double loss) {
        return loss < 0 ? 0.0 : loss;
    }

    public WudiResult(float[] tauM, double lossBefore, double lossAfter, int steps) {
        this(tauM, lossBefore, lossAfter, steps, Map.of());
    }
}
