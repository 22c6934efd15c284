package dev.wudi.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.solver.spectral.SpectralFilter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The models' average written in a low-rank solution's basis ({@link LowRankWudi#sumTimes} at 1/n; the default merge
 * takes 0.75 x it where LoRA adapters span a sliver of the input space) equals (1/n) sum_i s_i P_i Q_i formed densely,
 * n counting a model that leaves the matrix as it is.
 */
class LowRankMeanTest {

    static final float U = 0x1p-24f;   // float32 unit roundoff

    @Test
    void theMeanInTheSolutionsBasisIsTheDenseMean() throws Exception {
        int rows = 12;
        int cols = 40;
        int[] ranks = {2, 3, 4};
        double[] scalings = {2.0, 0.5, 4.0};
        Random rnd = new Random(5);
        List<LowRankWudi.Factors> factors = new ArrayList<>();
        double[] mean = new double[rows * cols];
        int n = ranks.length + 1;                        // one more model, an adapter that does not touch this matrix
        double magnitude = 0;
        for (int k = 0; k < ranks.length; k++) {
            float[] p = new float[rows * ranks[k]];
            float[] q = new float[ranks[k] * cols];
            for (int j = 0; j < p.length; j++) {
                p[j] = (float) rnd.nextGaussian();
            }
            for (int j = 0; j < q.length; j++) {
                q[j] = (float) rnd.nextGaussian();
            }
            factors.add(new LowRankWudi.Factors(p, q, ranks[k], scalings[k]));
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    double v = 0;
                    for (int t = 0; t < ranks[k]; t++) {
                        v += (double) p[r * ranks[k] + t] * q[t * cols + c];
                    }
                    mean[r * cols + c] += scalings[k] * v / n;
                    magnitude = Math.max(magnitude, Math.abs(scalings[k] * v));
                }
            }
        }
        try (Backend cpu = Backends.cpu(0)) {
            LowRankWudi.Solution s = cpu.solveLowRank(rows, cols, factors,
                    new SpectralFilter(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0));
            float[] got = LowRankWudi.sumTimes(s, factors, 1.0 / n).dense();
            int r = s.r();                               // 9: the ranks' sum
            // each element passes through three float32 products: Q_i U (cols terms), P_i (Q_i U) and x U^T (r terms
            // each); every term is bounded by the largest |s P Q| element times the basis' unit norm, so the error is
            // at most about (cols + 2 r) u of it per product chain; x4 for the sum over the adapters and the basis'
            // orthonormality in float32
            double tol = 4 * (cols + 2 * r) * U * magnitude;
            for (int j = 0; j < got.length; j++) {
                assertEquals(mean[j], got[j], tol, "element " + j);
            }
        }
    }
}
