package dev.wudi.backend.cpu;

import dev.wudi.linalg.Blas;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.WudiResult;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.LiteralWudi;
import dev.wudi.solver.TestTensors;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The one-GEMM Adam solver against the literal one (specification 2.2: same trajectory up to float32 rounding). */
class CpuWudiProblemTest {

    private static Backend backend;

    @BeforeAll
    static void start() {
        backend = Backends.cpu(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    private static WudiResult solve(String name, int rows, int cols, List<float[]> taus, AdamConfig cfg,
                                    List<Double> losses) {
        try (WudiProblem p = backend.newProblem(name, rows, cols)) {
            for (float[] t : taus) {
                p.addTaskVector(t);
            }
            assertEquals(taus.size(), p.taskCount());
            return p.solveAdam(cfg, losses == null ? null : (t, l) -> losses.add(l));
        }
    }

    /**
     * 300 paper-sized steps relative to the tensor scale (tau entries ~1e-2, lr 1e-4 so that tau_m moves
     * by up to 3e-2). Adam's update m / sqrt(v) is close to +-lr per step whatever the gradient's size, so
     * rounding differences in g matter only where g is near zero; they are bounded by lr per step. The
     * measured gap (printed) is 2e-7 to 8e-7 of lr * steps (1 to 4 float32 ulps of max |tau_m|); we
     * require 1e-5 of lr * steps.
     */
    @ParameterizedTest(name = "[{0}, {1}] n={2}")
    @CsvSource({"24, 16, 4", "12, 30, 3", "32, 32, 6"})
    void threeHundredStepsFollowTheLiteralSolver(int rows, int cols, int n) {
        List<float[]> taus = TestTensors.taskVectors(rows * 31L + cols + n, n, rows, cols, 0.01f);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f);
        List<Double> oursLoss = new ArrayList<>();
        List<Double> litLoss = new ArrayList<>();
        WudiResult ours = solve("t", rows, cols, taus, cfg, oursLoss);
        WudiResult lit = LiteralWudi.solve(rows, cols, taus, cfg, (t, l) -> litLoss.add(l));

        double maxDiff = 0.0;
        double maxTau = 0.0;
        double moved = 0.0;
        float[] start = TestTensors.sum(taus);
        for (int i = 0; i < ours.tauM().length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(ours.tauM()[i] - lit.tauM()[i]));
            maxTau = Math.max(maxTau, Math.abs(lit.tauM()[i]));
            moved = Math.max(moved, Math.abs(lit.tauM()[i] - start[i]));
        }
        double budget = cfg.lr() * cfg.iterations();
        System.out.printf("[%d, %d] n=%d: max |ours - literal| = %.3g = %.3g of lr*steps, %.3g of max |tau_m|;"
                        + " max move %.3g%n", rows, cols, n, maxDiff, maxDiff / budget, maxDiff / maxTau, moved);
        assertTrue(moved > 0.3 * budget, "the optimisation moved tau_m (else the comparison is empty)");
        assertTrue(maxDiff < 1e-5 * budget, "max |ours - literal| = " + maxDiff + " vs lr*steps = " + budget);

        assertEquals(300, ours.steps());
        assertEquals(300, oursLoss.size());
        assertEquals(lit.lossBefore(), ours.lossBefore(), 1e-5 * lit.lossBefore());
        assertEquals(lit.lossAfter(), ours.lossAfter(), 1e-4 * lit.lossAfter());
        assertTrue(ours.lossAfter() < 0.9 * ours.lossBefore(), "Adam reduced the interference loss");
        for (int t = 0; t < 300; t += 37) {
            assertEquals(litLoss.get(t), oursLoss.get(t), 1e-4 * litLoss.get(t), "loss at the start of step " + (t + 1));
        }
        assertEquals(ours.lossBefore(), oursLoss.get(0));
    }

    /** A shape whose row blocks span several of the pass's 4096-element chunks, with a ragged last chunk. */
    @Test
    void chunkedParallelPassFollowsTheLiteralSolver() {
        int rows = 101;
        int cols = 90;
        List<float[]> taus = TestTensors.taskVectors(12, 3, rows, cols, 0.01f);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f).withIterations(40);
        List<Double> oursLoss = new ArrayList<>();
        List<Double> litLoss = new ArrayList<>();
        WudiResult ours = solve("c", rows, cols, taus, cfg, oursLoss);
        WudiResult lit = LiteralWudi.solve(rows, cols, taus, cfg, (t, l) -> litLoss.add(l));
        double budget = cfg.lr() * cfg.iterations();
        for (int i = 0; i < ours.tauM().length; i++) {
            assertEquals(lit.tauM()[i], ours.tauM()[i], 1e-5 * budget, "element " + i);
        }
        for (int t = 0; t < 40; t++) {
            assertEquals(litLoss.get(t), oursLoss.get(t), 1e-5 * litLoss.get(t), "loss at the start of step " + (t + 1));
        }
    }

    @Test
    void zeroStepsReturnTheSum() {
        List<float[]> taus = TestTensors.taskVectors(8, 3, 5, 6, 0.01f);
        WudiResult r = solve("w", 5, 6, taus, AdamConfig.paper().withIterations(0), null);
        assertArrayEquals(TestTensors.sum(taus), r.tauM());
        assertEquals(r.lossBefore(), r.lossAfter());
        assertEquals(TestTensors.literalLoss(r.tauM(), taus, 5, 6), r.lossAfter(), 1e-5 * r.lossAfter());
    }

    @Test
    void zeroTaskVectorIsSkippedWithWeightZero() {
        List<float[]> taus = TestTensors.taskVectors(9, 2, 10, 7, 0.01f);
        List<float[]> withZero = new ArrayList<>(taus);
        withZero.add(new float[70]);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f).withIterations(20);
        WudiResult a = solve("w", 10, 7, taus, cfg, null);
        WudiResult b;
        try (WudiProblem p = backend.newProblem("w", 10, 7)) {
            for (float[] t : withZero) {
                p.addTaskVector(t);
            }
            assertEquals(3, p.taskCount());
            assertEquals(1, p.zeroTaskCount());
            b = p.solveAdam(cfg, null);
        }
        assertArrayEquals(a.tauM(), b.tauM(), "a zero task vector changes nothing");
        assertTrue(Double.isFinite(b.lossAfter()));
    }

    @Test
    void wrongLengthIsRejectedNamingTheTensor() {
        try (WudiProblem p = backend.newProblem("layer.0.weight", 4, 5)) {
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> p.addTaskVector(new float[21]));
            assertTrue(ex.getMessage().contains("layer.0.weight"), ex.getMessage());
            assertEquals(0, p.taskCount());
        }
    }

    @Test
    void solveBeforeAnyAddIsRejected() {
        try (WudiProblem p = backend.newProblem("layer.1.weight", 4, 5)) {
            IllegalStateException ex = assertThrows(IllegalStateException.class,
                    () -> p.solveAdam(AdamConfig.paper(), null));
            assertTrue(ex.getMessage().contains("layer.1.weight"), ex.getMessage());
        }
    }

    @Test
    void closedProblemIsRejectedAndCloseIsIdempotent() {
        WudiProblem p = backend.newProblem("x", 3, 3);
        p.close();
        p.close();
        assertThrows(IllegalStateException.class, () -> p.addTaskVector(new float[9]));
    }

    @Test
    void solvingTwiceStartsAgainFromTheSum() {
        List<float[]> taus = TestTensors.taskVectors(10, 3, 8, 8, 0.01f);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f).withIterations(10);
        try (WudiProblem p = backend.newProblem("x", 8, 8)) {
            for (float[] t : taus) {
                p.addTaskVector(t);
            }
            float[] first = p.solveAdam(cfg, null).tauM();
            assertArrayEquals(first, p.solveAdam(cfg, null).tauM());
            assertArrayEquals(first, p.solveAdam(cfg, (t, l) -> { }).tauM(), "a listener changes nothing");
        }
    }

    @Test
    void oneThreadAndTwoThreadsAgree() {
        List<float[]> taus = TestTensors.taskVectors(11, 3, 33, 9, 0.01f);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f).withIterations(50);
        float[] two = solve("x", 33, 9, taus, cfg, null).tauM();
        float[] one;
        try (CpuBackend single = new CpuBackend(1); WudiProblem p = single.newProblem("x", 33, 9)) {
            for (float[] t : taus) {
                p.addTaskVector(t);
            }
            one = p.solveAdam(cfg, null).tauM();
        } finally {
            Blas.setThreads(2);
        }
        for (int i = 0; i < one.length; i++) {
            assertEquals(one[i], two[i], 1e-4 * cfg.lr() * cfg.iterations());
        }
    }

    @Test
    void backendDescribesItself() {
        assertEquals("cpu", backend.name());
        assertTrue(backend.describe().contains("OpenBLAS"), backend.describe());
        assertThrows(IllegalArgumentException.class, () -> Backends.cpu(-1));
    }
}
