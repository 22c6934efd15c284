package dev.wudi.solver.spectral;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.solver.SolverSpec;
import java.util.List;
import org.apache.commons.math3.linear.LUDecomposition;
import org.apache.commons.math3.linear.MatrixUtils;
import org.apache.commons.math3.linear.RealMatrix;
import org.junit.jupiter.api.Test;

/** Every spectral solver against a double-precision Commons Math reference built from the definitions. */
class SpectralSolverTest {

    private static final int ROWS = 30;
    private static final int COLS = 24;
    private static final List<float[]> TAUS = Reference.lowRankTasks(11, 4, ROWS, COLS, 4, 2e-3);
    private static final GramMatrices G = GramMatrices.of(ROWS, COLS, TAUS);
    private static final Reference REF = new Reference(ROWS, COLS, TAUS);
    private static final SpectralSolver SOLVER = new SpectralSolver(new LapackEigen());

    @Test
    void exactIsDTimesThePseudoInverseOfC() {
        // C has rank 16 < 24: the pseudo-inverse, through the eigenpairs above the numerical zero
        RealMatrix want = REF.filtered(l -> 0, l -> 1 / l, false, 0);
        SpectralSolver.Solution s = SOLVER.solve(G, new SolverSpec.Exact(0));
        assertTrue(Reference.relErr(s.tau(), want) < 2e-4, "relative error " + Reference.relErr(s.tau(), want));
        assertEquals(16, s.used());
        // the minimiser: the gradient 2 (tau C - D) vanishes (relative to D)
        float[] grad = G.gradient(s.tau());
        double gmax = 0;
        double dmax = 0;
        for (int i = 0; i < grad.length; i++) {
            gmax = Math.max(gmax, Math.abs(grad[i]));
            dmax = Math.max(dmax, Math.abs(G.d()[i]));
        }
        assertTrue(gmax < 1e-3 * dmax, "gradient at the exact solution " + gmax + " vs |D| " + dmax);
        assertTrue(s.lossAfter() < s.lossBefore());
    }

    @Test
    void exactWithRidgeSolvesTheRegularisedSystem() {
        double rho = 0.05;
        RealMatrix cr = REF.c.add(MatrixUtils.createRealIdentityMatrix(COLS).scalarMultiply(rho));
        RealMatrix want = REF.d.multiply(new LUDecomposition(cr).getSolver().getInverse());
        float[] got = SOLVER.solve(G, new SolverSpec.Exact(rho)).tau();
        assertTrue(Reference.relErr(got, want) < 1e-4, "relative error " + Reference.relErr(got, want));
    }

    @Test
    void tikhonovIsTheRidgeTowardsTheSum() {
        // argmin L(tau) + rho ||tau - tau0||^2  =  (D + rho tau0) (C + rho I)^-1
        double rho = 0.02;
        RealMatrix cr = REF.c.add(MatrixUtils.createRealIdentityMatrix(COLS).scalarMultiply(rho));
        RealMatrix want = REF.d.add(REF.tau0.scalarMultiply(rho)).multiply(new LUDecomposition(cr).getSolver().getInverse());
        float[] got = SOLVER.solve(G, new SolverSpec.Spectral(SpectralFilter.Kind.TIKHONOV, rho, 0)).tau();
        assertTrue(Reference.relErr(got, want) < 1e-4, "relative error " + Reference.relErr(got, want));
    }

    @Test
    void flowFollowsManyTinyGradientDescentSteps() {
        // d tau/dt = -grad L = -2 (tau C - D) from tau0, integrated by 20000 explicit Euler steps in double
        double t = 3.0;
        int steps = 20000;
        double h = t / steps;
        RealMatrix tau = REF.tau0.copy();
        for (int k = 0; k < steps; k++) {
            tau = tau.subtract(tau.multiply(REF.c).subtract(REF.d).scalarMultiply(2 * h));
        }
        float[] got = SOLVER.solve(G, new SolverSpec.Flow(t)).tau();
        // Euler's error is O(h lambda_max); the flow moved tau by a large fraction of itself
        assertTrue(Reference.relErr(got, tau) < 1e-3, "relative error " + Reference.relErr(got, tau));
        assertTrue(Reference.relErr(G.tau0(), tau) > 0.1, "the flow moved tau0 noticeably");
        // and matches the closed form in double
        RealMatrix closed = REF.filtered(l -> -Math.expm1(-2 * l * t), l -> -Math.expm1(-2 * l * t) / l, true, 0);
        assertTrue(Reference.relErr(got, closed) < 1e-4);
    }

    @Test
    void flowIsMonotoneInTimeFromTheSumToTheMinimiser() {
        double prev = G.loss(G.tau0());
        for (double t : new double[] {0.1, 1, 10, 100}) {
            SpectralSolver.Solution s = SOLVER.solve(G, new SolverSpec.Flow(t));
            assertTrue(s.lossAfter() <= prev * (1 + 1e-6), "loss decreases along the flow at t=" + t);
            prev = s.lossAfter();
        }
        double exact = SOLVER.solve(G, new SolverSpec.Exact(0)).lossAfter();
        assertTrue(prev >= exact - 1e-6 * Math.abs(exact));
        // t = 0 is the sum itself
        assertArrayEquals(G.tau0(), SOLVER.solve(G, new SolverSpec.Flow(0)).tau(), 1e-9f);
    }

    @Test
    void landweberIsExactlyKPlainGradientSteps() {
        int k = 7;
        double lmax = REF.eigen().getRealEigenvalues()[0];
        for (double v : REF.eigen().getRealEigenvalues()) {
            lmax = Math.max(lmax, v);
        }
        double eta = 1 / lmax;
        RealMatrix tau = REF.tau0.copy();
        for (int s = 0; s < k; s++) {
            tau = tau.subtract(tau.multiply(REF.c).subtract(REF.d).scalarMultiply(eta)); // step eta/2 on grad L
        }
        float[] got = SOLVER.solve(G, new SolverSpec.Spectral(SpectralFilter.Kind.LANDWEBER, k, 0)).tau();
        assertTrue(Reference.relErr(got, tau) < 1e-4, "relative error " + Reference.relErr(got, tau));
    }

    @Test
    void rankTruncationFiltersOnlyTheLeadingEigenpairs() {
        double t = 5;
        RealMatrix want = REF.filtered(l -> -Math.expm1(-2 * l * t), l -> -Math.expm1(-2 * l * t) / l, true, 6);
        SpectralSolver.Solution s = SOLVER.solve(G, new SolverSpec.Spectral(SpectralFilter.Kind.EXPONENTIAL, t, 6));
        assertEquals(6, s.used());
        assertTrue(Reference.relErr(s.tau(), want) < 1e-4, "relative error " + Reference.relErr(s.tau(), want));
    }

    @Test
    void defaultRuleIsScaleFreeAndBetweenTheSumAndTheMinimiser() {
        SpectralSolver.Solution s = SOLVER.solve(G, SolverSpec.Spectral.defaults());
        SymmetricEigen.EigenPairs e = new LapackEigen().decompose(G.c(), COLS);
        double lc = SpectralFilter.DEFAULT_CUTOFF_FRACTION * e.trace() / SpectralFilter.numericalRank(e);
        assertEquals(1 / (2 * lc), s.param(), 1e-6 / lc, "t = 1 / (2 lambda_c)");
        // the default flow time is the Flow solver's default too
        assertArrayEquals(s.tau(), SOLVER.solve(G, new SolverSpec.Flow(Double.NaN)).tau(), 0f);
        double exact = SOLVER.solve(G, new SolverSpec.Exact(0)).lossAfter();
        assertTrue(s.lossAfter() < s.lossBefore() && s.lossAfter() > exact,
                "default filter stops between the sum and the minimiser");
        // task vectors x1000: same parameter, result x1000 (C is invariant, D and tau0 scale)
        List<float[]> big = TAUS.stream().map(t -> {
            float[] b = t.clone();
            for (int i = 0; i < b.length; i++) {
                b[i] *= 1000f;
            }
            return b;
        }).toList();
        SpectralSolver.Solution sb = SOLVER.solve(GramMatrices.of(ROWS, COLS, big), SolverSpec.Spectral.defaults());
        assertEquals(s.param(), sb.param(), 1e-4 * s.param());
        float[] scaledBack = sb.tau().clone();
        for (int i = 0; i < scaledBack.length; i++) {
            scaledBack[i] /= 1000f;
        }
        assertTrue(Reference.relErr(scaledBack, Reference.matrix(s.tau(), ROWS, COLS)) < 1e-4);
        // a smaller cutoff fraction flows longer: closer to the minimiser
        SpectralSolver.Solution s3 = SOLVER.solve(G, new SolverSpec.Spectral(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0, 0.01));
        assertEquals(s.param() * SpectralFilter.DEFAULT_CUTOFF_FRACTION / 0.01, s3.param(), 1e-6 * s3.param());
        assertTrue(s3.lossAfter() < s.lossAfter() && s3.lossAfter() > exact);
        // Tikhonov and Landweber defaults put their knee at the same lambda_c
        assertEquals(lc, SOLVER.solve(G, new SolverSpec.Spectral(SpectralFilter.Kind.TIKHONOV, Double.NaN, 0)).param(),
                1e-6 * lc);
        assertEquals(e.max() / lc, SOLVER.solve(G, new SolverSpec.Spectral(SpectralFilter.Kind.LANDWEBER, Double.NaN, 0))
                .param(), 1e-6 * e.max() / lc);
    }

    @Test
    void zeroTaskVectorsLeaveTheSumAndInvalidParametersAreRefused() {
        GramMatrices zero = GramMatrices.of(3, 2, List.of(new float[6], new float[6]));
        for (SolverSpec spec : List.of(new SolverSpec.Exact(0), new SolverSpec.Flow(1), SolverSpec.Spectral.defaults())) {
            SpectralSolver.Solution s = SOLVER.solve(zero, spec);
            assertArrayEquals(new float[6], s.tau());
            assertEquals(0, s.used());
        }
        assertThrows(IllegalArgumentException.class, () -> new SolverSpec.Flow(-1));
        assertThrows(IllegalArgumentException.class, () -> new SolverSpec.Exact(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> new SolverSpec.Spectral(SpectralFilter.Kind.TIKHONOV, -2, 0));
        assertThrows(IllegalArgumentException.class, () -> new SolverSpec.Spectral(SpectralFilter.Kind.TIKHONOV, 1, -1));
        assertThrows(IllegalArgumentException.class, () -> SpectralFilter.Kind.parse("gaussian"));
        assertThrows(IllegalArgumentException.class,
                () -> new SolverSpec.Spectral(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0, 0));
    }
}
