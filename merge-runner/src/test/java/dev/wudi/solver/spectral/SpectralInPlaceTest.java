package dev.wudi.solver.spectral;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.linalg.NativeFloats;
import dev.wudi.linalg.SelectedEigenpairs;
import dev.wudi.solver.GramForm;
import dev.wudi.solver.SolverSpec;
import java.util.List;
import org.apache.commons.math3.linear.RealMatrix;
import org.junit.jupiter.api.Test;

/**
 * The in-place float32 path of the spectral solvers ({@link SpectralSolver#solveInPlace}: C decomposed where it lies,
 * only the eigenvectors the filter uses) against the full path with dsyevd in double on the same float32 Gram form,
 * and both against the Commons Math reference in double.
 *
 * <p>Tolerances. Both paths start from the same float32 C, whose entries carry the rounding of a float32 sum over
 * the rows (about sqrt(rows) 2^-24 relative); a float32 tridiagonal reduction perturbs C by a few 2^-24 ||C|| more
 * (backward stable). The filters' coefficients are Lipschitz in lambda with a constant of about 1 / lambda_knee, so
 * the merged weights move by about (lambda_max / lambda_knee) times 2^-24 times a small factor: measured here, at
 * most 8e-6 (max-abs relative) against the double reference, where the full path is at 2e-6. The bound asserted is
 * 5e-5, which a float32 eigensolver that lost its eigenvectors' orthogonality (errors of order 1), coefficients
 * matched to the wrong vectors (order 1) or a missing eigenpair (a whole direction: ~1e-2 here) could not meet.
 */
class SpectralInPlaceTest {

    private static final int ROWS = 120;
    private static final int COLS = 200;
    /** Rank 3 x 40 = 120 < 200: a rank-deficient C. */
    private static final List<float[]> DEFICIENT = Reference.lowRankTasks(31, 3, ROWS, COLS, 40, 2e-3);
    /** Rank 3 x 120 = 360 > 200: full rank, a graded spectrum. */
    private static final List<float[]> FULL = Reference.lowRankTasks(32, 3, ROWS, COLS, 120, 1e-3);
    private static final double TOLERANCE = 5e-5;

    private static GramForm gram(List<float[]> taus) {
        GramForm g = new GramForm(ROWS, COLS);
        taus.forEach(g::add);
        return g;
    }

    private static SpectralSolver.Solution inPlace(List<float[]> taus, SpectralFilter filter) {
        try (GramForm g = gram(taus)) {
            return SpectralSolver.solveInPlace(g, filter);
        }
    }

    @Test
    void everyBoundedFilterMatchesTheFullDoublePathAndTheReference() {
        List<SpectralFilter> filters = List.of(
                SpectralSolver.filterOf(SolverSpec.Spectral.defaults()),
                SpectralSolver.filterOf(new SolverSpec.Flow(40)),
                new SpectralFilter(SpectralFilter.Kind.TIKHONOV, Double.NaN, 0),
                new SpectralFilter(SpectralFilter.Kind.TIKHONOV, 0.01, 0),
                new SpectralFilter(SpectralFilter.Kind.LANDWEBER, Double.NaN, 0),
                new SpectralFilter(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 25),
                new SpectralFilter(SpectralFilter.Kind.EXPONENTIAL, 30, 7));
        SpectralSolver full = new SpectralSolver(new LapackEigen());
        for (List<float[]> taus : List.of(DEFICIENT, FULL)) {
            GramMatrices heap = GramMatrices.of(ROWS, COLS, taus);
            Reference ref = new Reference(ROWS, COLS, taus);
            for (SpectralFilter f : filters) {
                String what = f.describe() + (taus == FULL ? " (full rank)" : " (rank-deficient)");
                SpectralSolver.Solution want = full.solve(heap, f);
                SpectralSolver.Solution got = inPlace(taus, f);
                assertEquals(want.used(), got.used(), what + ": eigenpairs used");
                assertEquals(want.param(), got.param(), 1e-4 * want.param(), what + ": parameter");
                double vsFull = Reference.relErr(got.tau(), Reference.matrix(want.tau(), ROWS, COLS));
                assertTrue(vsFull < TOLERANCE, what + ": relative difference to the full path " + vsFull);
                RealMatrix exact = reference(ref, f, got.param());
                double vsRef = Reference.relErr(got.tau(), exact);
                assertTrue(vsRef < TOLERANCE, what + ": relative error against double " + vsRef);
                // the loss summed over the directions changed equals the loss by its definition (one more GEMM)
                double byGemm = heap.loss(got.tau());
                assertEquals(byGemm, got.lossAfter(), 1e-5 * got.lossBefore(), what + ": loss after");
                assertEquals(heap.loss(heap.tau0()), got.lossBefore(), 1e-6 * got.lossBefore(), what + ": loss before");
                assertTrue(got.lossAfter() < got.lossBefore(), what + ": the filter lowers the loss");
            }
        }
    }

    /**
     * The filter's closed form in double at the parameter the solver resolved: C, D and tau0 formed in double from the
     * task vectors (Commons Math), C decomposed by dsyevd on that double matrix (Commons Math's own eigensolver does
     * not converge on these rank-deficient C), the numerical zero that of a float32 C, as the solvers use.
     */
    private static RealMatrix reference(Reference ref, SpectralFilter f, double p) {
        double[] c = new double[COLS * COLS];
        for (int i = 0; i < COLS; i++) {
            for (int j = 0; j < COLS; j++) {
                c[i * COLS + j] = ref.c.getEntry(i, j);
            }
        }
        SymmetricEigen.EigenPairs e = LapackEigen.decomposeInPlace(c, COLS);
        double lmax = e.max();
        double tol = lmax * COLS * 0x1p-23;
        RealMatrix out = ref.tau0.copy();
        int limit = f.rank() == 0 ? COLS : f.rank();
        for (int q = 0; q < limit && e.values()[q] > tol; q++) {
            double l = e.values()[q];
            double a;
            double b;
            switch (f.kind()) {
                case EXPONENTIAL:
                    a = -Math.expm1(-2 * l * p);
                    b = a / l;
                    break;
                case TIKHONOV:
                    a = l / (l + p);
                    b = 1 / (l + p);
                    break;
                case LANDWEBER:
                    a = -Math.expm1(p * Math.log1p(-l / lmax));
                    b = a / l;
                    break;
                default:
                    throw new AssertionError(f.kind());
            }
            double[] v = new double[COLS];
            for (int i = 0; i < COLS; i++) {
                v[i] = e.vectors()[i * COLS + q];
            }
            RealMatrix vm = org.apache.commons.math3.linear.MatrixUtils.createColumnRealMatrix(v);
            RealMatrix proj = ref.d.multiply(vm).scalarMultiply(b).subtract(ref.tau0.multiply(vm).scalarMultiply(a));
            out = out.add(proj.multiply(vm.transpose()));
        }
        return out;
    }

    @Test
    void onlyTheEigenvectorsAskedForAreComputedAndTheyAreEigenvectors() {
        try (GramForm g = gram(FULL)) {
            float[] c = g.c().toArray();
            try (NativeFloats taken = g.takeC(); SelectedEigenpairs e = SelectedEigenpairs.decompose(taken, COLS, v -> 9)) {
                assertEquals(9, e.k());
                assertEquals(9 * COLS, e.vectorsT().length());
                double[] lambda = e.values();
                SymmetricEigen.EigenPairs d = new LapackEigen().decompose(c, COLS);
                for (int j = 0; j < COLS; j++) {
                    // float32 tridiagonalisation: eigenvalues within a few 2^-24 lambda_max of dsyevd's
                    assertEquals(d.values()[j], lambda[j], 64 * 0x1p-24 * d.max(), "eigenvalue " + j);
                }
                float[] vt = e.vectorsT().toArray();
                for (int j = 0; j < 9; j++) {
                    double norm = 0;
                    double residual = 0;
                    for (int i = 0; i < COLS; i++) {
                        double cv = 0;
                        for (int q = 0; q < COLS; q++) {
                            cv += (double) c[i * COLS + q] * vt[j * COLS + q];
                        }
                        residual = Math.max(residual, Math.abs(cv - lambda[j] * vt[j * COLS + i]));
                        norm += (double) vt[j * COLS + i] * vt[j * COLS + i];
                    }
                    assertEquals(1, norm, 1e-5, "eigenvector " + j + " has unit norm");
                    assertTrue(residual < 64 * 0x1p-24 * d.max(), "C v = lambda v for eigenpair " + j + ": " + residual);
                    double overlap = 0;
                    for (int i = 0; i < COLS; i++) {
                        overlap += vt[j * COLS + i] * d.vectors()[i * COLS + j];
                    }
                    assertEquals(1, Math.abs(overlap), 1e-3, "eigenvector " + j + " is dsyevd's (up to sign)");
                }
            }
            IllegalStateException spent = assertThrows(IllegalStateException.class, g::c);
            assertTrue(spent.getMessage().contains("in place"), spent.getMessage());
            assertThrows(IllegalStateException.class, () -> g.add(FULL.get(0)));
        }
    }

    @Test
    void zeroTaskVectorsLeaveTheSumAndTheExactFilterIsRefused() {
        try (GramForm g = new GramForm(3, 2)) {
            g.add(new float[6]);
            g.add(new float[6]);
            SpectralSolver.Solution s = SpectralSolver.solveInPlace(g, SpectralSolver.filterOf(SolverSpec.Spectral.defaults()));
            assertArrayEquals(new float[6], s.tau());
            assertEquals(0, s.used());
        }
        try (GramForm g = gram(FULL)) {
            assertThrows(IllegalArgumentException.class,
                    () -> SpectralSolver.solveInPlace(g, SpectralSolver.filterOf(new SolverSpec.Exact(0))));
        }
    }
}
