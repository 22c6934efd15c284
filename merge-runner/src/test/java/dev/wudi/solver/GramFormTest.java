package dev.wudi.solver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** The one-GEMM gradient and the Gram-form loss (specification 2.2) against the literal formula and a double reference. */
class GramFormTest {

    static Stream<Arguments> shapes() {
        List<Arguments> a = new ArrayList<>();
        int[][] shapes = {{7, 13}, {40, 17}, {64, 64}, {96, 200}};
        for (int[] s : shapes) {
            for (int n = 1; n <= 6; n++) {
                a.add(Arguments.of(s[0], s[1], n));
            }
        }
        return a.stream();
    }

    private static GramForm gramOf(List<float[]> taus, int rows, int cols) {
        GramForm g = new GramForm(rows, cols);
        for (float[] t : taus) {
            g.add(t);
        }
        return g;
    }

    /** The sum (Adam's start; skipped for n = 1, where it is the minimiser with L = 0) and a point away from it. */
    private static List<float[]> points(List<float[]> taus, long seed) {
        return taus.size() == 1 ? List.of(somePoint(taus, seed)) : List.of(TestTensors.sum(taus), somePoint(taus, seed));
    }

    /** A point away from the sum, so that the gradient is not dominated by the start. */
    private static float[] somePoint(List<float[]> taus, long seed) {
        float[] s = TestTensors.sum(taus);
        float[] noise = TestTensors.gaussian(new Random(seed), s.length, 0.01f);
        for (int i = 0; i < s.length; i++) {
            s[i] = 0.5f * s[i] + noise[i];
        }
        return s;
    }

    @ParameterizedTest(name = "[{0}, {1}] n={2}")
    @MethodSource("shapes")
    void oneGemmGradientEqualsLiteralGradient(int rows, int cols, int n) {
        List<float[]> taus = TestTensors.taskVectors(1000L * rows + 10L * cols + n, n, rows, cols, 0.01f);
        try (GramForm g = gramOf(taus, rows, cols);
             InterferenceLoss literal = new InterferenceLoss(rows, cols, taus)) {
            for (float[] tauM : points(taus, n)) {
                float[] ours = g.gradient(tauM);
                float[] lit = new float[tauM.length];
                literal.lossAndGradient(tauM, lit);
                double[] ref = TestTensors.literalGradient(tauM, taus, rows, cols);
                double oursVsLiteral = TestTensors.relativeError(ours, lit);
                assertTrue(oursVsLiteral < 1e-5, "one-GEMM vs literal gradient: relative error " + oursVsLiteral);
                assertTrue(TestTensors.relativeError(ours, ref) < 1e-5, "one-GEMM vs double reference");
                assertTrue(TestTensors.relativeError(lit, ref) < 1e-5, "literal vs double reference");
            }
        }
    }

    @ParameterizedTest(name = "[{0}, {1}] n={2}")
    @MethodSource("shapes")
    void gramLossEqualsLiteralLoss(int rows, int cols, int n) {
        List<float[]> taus = TestTensors.taskVectors(7L * rows + cols + 100L * n, n, rows, cols, 0.01f);
        try (GramForm g = gramOf(taus, rows, cols);
             InterferenceLoss literal = new InterferenceLoss(rows, cols, taus)) {
            for (float[] tauM : points(taus, n)) {
                double ref = TestTensors.literalLoss(tauM, taus, rows, cols);
                double ours = g.loss(tauM);
                double lit = literal.loss(tauM);
                assertEquals(ref, ours, 1e-5 * ref, "Gram-form loss");
                assertEquals(ref, lit, 1e-5 * ref, "literal loss");
            }
        }
    }

    @Test
    void lossIsZeroAtTheTaskVectorForOneTask() {
        // with n = 1, L(tau_1) = ||0||^2 = 0: the Gram form must cancel to rounding, K included
        List<float[]> taus = TestTensors.taskVectors(5, 1, 20, 30, 0.01f);
        try (GramForm g = gramOf(taus, 20, 30)) {
            double atSum = g.loss(taus.get(0));
            double scale = g.k();
            assertTrue(Math.abs(atSum) < 1e-5 * scale, "L(tau_1) = " + atSum + " with K = " + scale);
        }
    }

    @Test
    void zeroTaskVectorHasWeightZeroButCountsAndSums() {
        int rows = 9;
        int cols = 11;
        List<float[]> taus = TestTensors.taskVectors(3, 2, rows, cols, 0.01f);
        List<float[]> withZero = new ArrayList<>(taus);
        withZero.add(1, new float[rows * cols]);
        try (GramForm a = gramOf(taus, rows, cols); GramForm b = gramOf(withZero, rows, cols)) {
            assertEquals(3, b.taskCount());
            assertEquals(1, b.zeroTaskCount());
            assertEquals(0, a.zeroTaskCount());
            assertArrayEquals(a.c().toArray(), b.c().toArray());
            assertArrayEquals(a.d().toArray(), b.d().toArray());
            assertArrayEquals(a.sum().toArray(), b.sum().toArray());
            assertEquals(a.k(), b.k());
            float[] p = TestTensors.sum(taus);
            assertTrue(Double.isFinite(b.loss(p)));
            assertEquals(a.loss(p), b.loss(p));
        }
        try (InterferenceLoss literal = new InterferenceLoss(rows, cols, withZero)) {
            assertTrue(Double.isFinite(literal.loss(TestTensors.sum(taus))), "the oracle applies the same rule");
        }
    }

    @Test
    void onlyZeroTaskVectorsGiveZeroLossAndGradient() {
        try (GramForm g = new GramForm(4, 5)) {
            g.add(new float[20]);
            assertEquals(0.0, g.loss(new float[20]));
            assertArrayEquals(new float[20], g.gradient(new float[20]));
        }
    }

    @Test
    void wrongLengthAndNonFiniteRejected() {
        try (GramForm g = new GramForm(4, 5)) {
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> g.add(new float[19]));
            assertTrue(ex.getMessage().contains("19") && ex.getMessage().contains("[4, 5]"), ex.getMessage());
            float[] bad = new float[20];
            bad[7] = Float.NaN;
            assertThrows(IllegalArgumentException.class, () -> g.add(bad));
            float[] tiny = new float[20];
            tiny[3] = 1e-25f;                                   // ||tau||^2 = 1e-50: w overflows float32
            assertThrows(IllegalArgumentException.class, () -> g.add(tiny));
            assertEquals(0, g.taskCount(), "a rejected task vector is not counted");
            assertArrayEquals(new float[20], g.sum().toArray(), "nor summed");
        }
        assertThrows(IllegalArgumentException.class, () -> new GramForm(0, 5));
    }
}
