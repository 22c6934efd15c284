package dev.wudi.solver.spectral;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.junit.jupiter.api.Test;

class LapackEigenTest {

    /** A rank-deficient C like WUDI's: 3 tasks of rank 5 in 40 columns. */
    private static GramMatrices gram() {
        List<float[]> taus = Reference.lowRankTasks(7, 3, 24, 40, 5, 1e-3);
        return GramMatrices.of(24, 40, taus);
    }

    @Test
    void eigenvaluesMatchCommonsMathAndVectorsDiagonaliseC() {
        GramMatrices g = gram();
        int n = g.cols();
        for (boolean dbl : new boolean[] {true, false}) {
            SymmetricEigen.EigenPairs e = new LapackEigen(dbl).decompose(g.c(), n);
            double[] want = new EigenDecomposition(Reference.matrix(g.c(), n, n)).getRealEigenvalues();
            Arrays.sort(want);
            double tol = dbl ? 1e-12 : 2e-6;
            for (int j = 0; j < n; j++) {
                assertEquals(want[n - 1 - j], e.values()[j], tol * e.max(), "eigenvalue " + j + " (double " + dbl + ")");
                if (j > 0) {
                    assertTrue(e.values()[j] <= e.values()[j - 1], "descending order");
                }
            }
            // V^T V = I and C v_j = lambda_j v_j
            double[] v = e.vectors();
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    double dot = 0;
                    for (int i = 0; i < n; i++) {
                        dot += v[i * n + a] * v[i * n + b];
                    }
                    assertEquals(a == b ? 1 : 0, dot, dbl ? 1e-12 : 1e-5, "V^T V at " + a + "," + b);
                }
                for (int i = 0; i < n; i++) {
                    double cv = 0;
                    for (int k = 0; k < n; k++) {
                        cv += g.c()[i * n + k] * v[k * n + a];
                    }
                    assertEquals(e.values()[a] * v[i * n + a], cv, (dbl ? 1e-12 : 1e-5) * e.max());
                }
            }
        }
        // trace(C) = number of nonzero task vectors (w_i = 1/||tau_i||^2), whatever their scale
        assertEquals(3.0, new LapackEigen().decompose(g.c(), n).trace(), 1e-5);
        assertEquals(15, SpectralFilter.numericalRank(new LapackEigen().decompose(g.c(), n)));
    }
}
