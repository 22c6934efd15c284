package dev.wudi.method;

import java.util.Map;

/**
 * The default merge's coefficient (--scale auto), decided per matrix from the task vectors alone (docs/quality.md):
 *
 * <ul>
 *   <li>where the task vectors span at least {@link #MIN_COVERAGE} of the input space (the numerical rank of
 *   C = sum_i tau_i^T tau_i / ||tau_i||^2 over the input width), W = W_0 + {@link #SCALE} tau_m: WUDI's solution at
 *   half its length. Fine-tunes of a whole weight span most of it; the unscaled solution overshoots on language
 *   models, and half of it beat averaging and task arithmetic x0.3 on every such testbed measured;</li>
 *   <li>where they span a sliver of it (LoRA adapters: each row space is its adapter's few lora_A rows, set by their
 *   initialisation rather than by the task's inputs), W = W_0 + {@link #AVERAGE_FRACTION} mean_i tau_i: three
 *   quarters of the models' average. There the row spaces barely overlap, the loss reaches about zero near the sum of
 *   the task vectors, and WUDI's premise (task i's inputs lie in tau_i's row space) does not hold, so its solution is
 *   no evidence against averaging; measured, no scaled WUDI solution beat averaging on both LoRA sets. The average is
 *   shrunk because adapters measured cost the other tasks about twice what they gain on their own (they go past
 *   their held-out optimum), which puts the best coefficient on their sum near 0.7 / n
 *   (tests/bench/lm/crosstalk.py); 0.75 leans toward the average, the safer side where an adapter stopped short.</li>
 * </ul>
 */
public final class CoverageRule {

    /** The coefficient on tau_m where the task vectors cover enough of the input space. */
    public static final double SCALE = 0.5;

    /** The least fraction of the input space the task vectors must span for WUDI's solution to be used. */
    public static final double MIN_COVERAGE = 0.25;

    /** The fraction of the models' average (the mean task vector) taken where they span less. */
    public static final double AVERAGE_FRACTION = 0.75;

    private CoverageRule() {
    }

    /**
     * What the rule did on one matrix.
     *
     * @param coverage  rank(C) / input width
     * @param average   true: AVERAGE_FRACTION x the mean task vector; false: SCALE x tau_m
     */
    public record Choice(double coverage, boolean average) {

        /** The coefficient on tau_m (0 where the mean task vector is taken instead). */
        public double coefficient() {
            return average ? 0 : SCALE;
        }

        /** The coefficient on the mean task vector (0 where tau_m is taken instead). */
        public double averageFraction() {
            return average ? AVERAGE_FRACTION : 0;
        }

        /** The same as a coefficient on the sum of the task vectors of n models: averageFraction / n. */
        public double onSum(int n) {
            return averageFraction() / n;
        }

        /**
         * Puts the choice into a tensor's details: "coverage", "coefficient" (on tau_m: 0 where the mean was taken)
         * and, where the mean was taken, "average_fraction".
         */
        void record(Map<String, Double> details) {
            details.put("coverage", coverage);
            details.put("coefficient", coefficient());
            if (average) {
                details.put("average_fraction", averageFraction());
            }
        }
    }

    /** The choice for a matrix whose C has numerical rank {@code rank} over {@code inputWidth} columns. */
    public static Choice decide(double rank, int inputWidth) {
        double coverage = inputWidth > 0 ? rank / inputWidth : 0;
        return new Choice(coverage, coverage < MIN_COVERAGE);
    }

    /**
     * The merged weight of one matrix, in place of tau_m: W = W_0 + scale tau_m, or W_0 + (AVERAGE_FRACTION / n) sum_i
     * tau_i where the rule takes the average; the choice goes into the details ({@link Choice#record}).
     *
     * @param taskSum sum_i tau_i (the models whose task vector is zero count in n all the same: the models' average)
     * @param rank    C's numerical rank from the solver
     */
    static float[] merged(float[] w0, float[] tauM, float[] taskSum, int n, double rank, int inputWidth, float scale,
                          Map<String, Double> details) {
        Choice c = decide(rank, inputWidth);
        c.record(details);
        float ofSum = (float) c.onSum(n);
        for (int j = 0; j < tauM.length; j++) {
            tauM[j] = w0[j] + (c.average() ? ofSum * taskSum[j] : scale * tauM[j]);
        }
        return tauM;
    }

    /** The rule as the plan, the card and the reports name it. */
    public static String summary() {
        return "scale auto: " + SCALE + " x tau_m where the task vectors span at least " + MIN_COVERAGE
                + " of the input space, " + AVERAGE_FRACTION + " x the models' average where they span less (LoRA"
                + " adapters)";
    }
}
