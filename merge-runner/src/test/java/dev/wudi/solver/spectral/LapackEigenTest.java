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

    /** Unit roundoff of float64 and float32. */
    private static final double U64 = 0x1p-53;
    private static final double U32 = 0x1p-24;

    /**
     * Both solvers decompose the same matrix: C is float32, but GramMatrices mirrors it, so it is exactly
     * symmetric and exactly representable in double (before that mirror, a GEMM-built C differed from its
     * transpose in the last float bit, on AVX2 kernels only, and LAPACK and Commons Math read opposite
     * triangles: 4e-9 apart at lambda_max). A backward-stable symmetric solver then errs by at most
     * p(n) u ||C||_2 per eigenvalue (Golub and Van Loan 8.4), and the eigenvectors' orthogonality by p(n) u.
     * Bounds: in double, 225 n u64 (1e-12 at n = 40; dsyevd and Commons Math's QL differ by about 10 n u64);
     * in float32 (ssyevd), n u32 (2.4e-6 at n = 40) for the values and 4 n u32 for V^T V and C V = V Lambda.
     */
    @Test
    void eigenvaluesMatchCommonsMathAndVectorsDiagonaliseC() {
        GramMatrices g = gram();
        int n = g.cols();
        for (boolean dbl : new boolean[] {true, false}) {
            SymmetricEigen.EigenPairs e = new LapackEigen(dbl).decompose(g.c(), n);
            double[] want = new EigenDecomposition(Reference.matrix(g.c(), n, n)).getRealEigenvalues();
            Arrays.sort(want);
            double tol = dbl ? 225 * n * U64 : n * U32;
            double vecTol = dbl ? 225 * n * U64 : 4 * n * U32;
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
                    assertEquals(a == b ? 1 : 0, dot, vecTol, "V^T V at " + a + "," + b);
                }
                for (int i = 0; i < n; i++) {
                    double cv = 0;
                    for (int k = 0; k < n; k++) {
                        cv += g.c()[i * n + k] * v[k * n + a];
                    }
                    assertEquals(e.values()[a] * v[i * n + a], cv, vecTol * e.max());
                }
            }
        }
        // trace(C) = number of nonzero task vectors (w_i = 1/||tau_i||^2), whatever their scale; C and the
        // weights are float32, so the trace carries their rounding: n u32 per diagonal entry, 40 entries
        assertEquals(3.0, new LapackEigen().decompose(g.c(), n).trace(), n * n * U32 * 3.0);
        assertEquals(15, SpectralFilter.numericalRank(new LapackEigen().decompose(g.c(), n)));
    }
}
