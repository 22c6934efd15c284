package dev.wudi.method;

import java.util.List;
import java.util.Map;

/**
 * What a rule reports about one tensor: the interference loss before and after (NaN where the rule does not
 * optimise one), what its solver decided (e.g. "lr" under --lr auto, "filter_param"), and which of the job's
 * models had a task vector of exactly zero here (indices into {@link TensorJob#models()}): WUDI leaves such a
 * model out of the loss (its weight 1/||tau||^2 would be infinite). Where WUDI solved on LoRA factors, the solution
 * in factors ({@code lowRank}, else null) lets an adapter output keep tau_m exactly.
 */
public record TensorOutcome(double lossBefore, double lossAfter, Map<String, Double> details, List<Integer> zeroTaskVectors,
                            dev.wudi.lora.LowRankWudi.Solution lowRank) {

    public static final TensorOutcome NONE = new TensorOutcome(Double.NaN, Double.NaN);

    public TensorOutcome {
        details = Map.copyOf(details);
        zeroTaskVectors = List.copyOf(zeroTaskVectors);
    }

    /** An outcome without a factored solution. */
    public TensorOutcome(double lossBefore, double lossAfter, Map<String, Double> details, List<Integer> zeroTaskVectors) {
        this(lossBefore, lossAfter, details, zeroTaskVectors, null);
    }

    public TensorOutcome(double lossBefore, double lossAfter, Map<String, Double> details) {
        this(lossBefore, lossAfter, details, List.of());
    }

    public TensorOutcome(double lossBefore, double lossAfter) {
        this(lossBefore, lossAfter, Map.of());
    }

    public boolean hasLoss() {
        return !Double.isNaN(lossBefore);
    }
}
