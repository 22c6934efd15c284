package dev.wudi.backend.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.solver.AdamConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The oracle itself, on the CPU: the Gram form's loss is the paper's literal loss, and Adam lowers it. */
class GramFormReferenceTest {

    static List<float[]> randomTasks(int count, int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<float[]> taus = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            float[] t = new float[rows * cols];
            double scale = 0.01 * (1 + i);
            for (int e = 0; e < t.length; e++) {
                t[e] = (float) (scale * rnd.nextGaussian());
            }
            taus.add(t);
        }
        return taus;
    }

    @Test
    void gramFormLossEqualsTheLiteralLoss() {
        for (int[] shape : new int[][] {{7, 5}, {4, 9}, {6, 6}}) {
            List<float[]> taus = randomTasks(3, shape[0], shape[1], 5);
            GramFormReference.Solution s = GramFormReference.solve(shape[0], shape[1], taus,
                    AdamConfig.paper().withIterations(0));
            float[] sum = new float[shape[0] * shape[1]];
            for (float[] t : taus) {
                for (int e = 0; e < sum.length; e++) {
                    sum[e] += t[e];
                }
            }
            double literal = GramFormReference.literalLoss(sum, shape[0], shape[1], taus);
            assertEquals(literal, s.lossBefore(), 1e-5 * literal, "shape " + shape[0] + "x" + shape[1]);
        }
    }

    @Test
    void adamLowersTheLossAndMatchesTheLiteralLossAtTheEnd() {
        int rows = 6, cols = 8;
        List<float[]> taus = randomTasks(4, rows, cols, 9);
        GramFormReference.Solution s = GramFormReference.solve(rows, cols, taus, AdamConfig.paper().withLr(1e-3f).withIterations(50));
        assertTrue(s.lossAfter() < s.lossBefore(), s.lossBefore() + " -> " + s.lossAfter());
        double literal = GramFormReference.literalLoss(s.tauM(), rows, cols, taus);
        assertEquals(literal, s.lossAfter(), 1e-4 * literal);
    }

    @Test
    void zeroTaskVectorJoinsTheSumWithWeightZero() {
        List<float[]> taus = randomTasks(2, 3, 4, 1);
        taus.add(new float[12]);
        assertEquals(0.0, GramFormReference.weight(taus.get(2)));
        GramFormReference.Solution s = GramFormReference.solve(3, 4, taus, AdamConfig.paper().withIterations(1));
        assertTrue(Double.isFinite(s.lossAfter()));
    }
}
