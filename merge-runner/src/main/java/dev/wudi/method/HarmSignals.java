package dev.wudi.method;

import java.util.Map;

/**
 * Data-free signs that a WUDI merge of one matrix is likely worse than averaging the models, read from the task
 * vectors and the solution alone, checked against every benchmark of docs/quality.md ("When a merge is likely to
 * hurt"): on none of the eight testbeds did a sign fire where the merge won; the paper's Adam was flagged on every
 * testbed where it lost by more than 1 % of the base's score, the unscaled spectral solution on the two LoRA sets but
 * not on the harsh language-model set, where it lost too (a miss no data-free signal measured there avoids).
 *
 * <ul>
 *   <li><b>Adam stopped near its start.</b> Adam moves an element by about lr a step, so with task vectors whose RMS
 *   exceeds lr x steps it ends near the sum of the task vectors it starts from, which adds every task vector at full
 *   length: distance ||tau_m - sum_i tau_i|| / ||sum_i tau_i|| below {@link #NEAR_SUM}.</li>
 *   <li><b>The task vectors span a sliver of the input space</b> (rank(C) / input width below
 *   {@link CoverageRule#MIN_COVERAGE}, LoRA adapters): the loss reaches about zero near their sum whatever the inputs
 *   do, so the solution is no evidence against averaging. The default merge takes three quarters of the models'
 *   average there instead.</li>
 * </ul>
 *
 * The signs go into a tensor's details: "distance_from_sum" or "coverage", and "likely_hurts" = 1 where one holds.
 * Adam's is read where the host forms the task vectors (the CPU, or a GPU under --lr auto); where a GPU forms them
 * from the checkpoint's bytes their sum never reaches the host and the sign is not computed.
 */
public final class HarmSignals {

    /** Adam's solution within this relative distance of the sum of the task vectors: stopped near its start. */
    public static final double NEAR_SUM = 1.0 / 3;

    public static final String LIKELY_HURTS = "likely_hurts";
    public static final String DISTANCE_FROM_SUM = "distance_from_sum";

    private HarmSignals() {
    }

    /**
     * Records Adam's distance from the sum of the task vectors, and the sign where it is near; not where the sum had no
     * loss to reduce: Adam then stays there because it is the minimiser, not for want of steps.
     *
     * @param changed how many task vectors are not zero here: under two, nothing was merged and nothing is recorded
     */
    static void adam(float[] tauM, float[] taskSum, double lossBefore, int changed, Map<String, Double> details) {
        if (changed < 2) {
            return;                                      // one task vector: WUDI returns it, nothing was merged
        }
        double diff = 0;
        double norm = 0;
        for (int j = 0; j < tauM.length; j++) {
            double d = (double) tauM[j] - taskSum[j];
            diff += d * d;
            norm += (double) taskSum[j] * taskSum[j];
        }
        if (norm == 0) {
            return;                                      // every task vector zero: nothing merged, nothing to fear
        }
        double distance = Math.sqrt(diff / norm);
        details.put(DISTANCE_FROM_SUM, distance);
        if (distance < NEAR_SUM && lossBefore > 0) {
            details.put(LIKELY_HURTS, 1.0);
        }
    }

    /**
     * Records the coverage of an unscaled solve (a spectral solver's rank of C), and the sign where it is small.
     *
     * @param changed how many task vectors are not zero here: under two, nothing was merged and nothing is recorded
     */
    static void coverage(double rank, int inputWidth, int changed, Map<String, Double> details) {
        if (changed < 2) {
            return;
        }
        CoverageRule.Choice c = CoverageRule.decide(rank, inputWidth);
        details.put("coverage", c.coverage());
        if (c.average()) {
            details.put(LIKELY_HURTS, 1.0);
        }
    }
}
