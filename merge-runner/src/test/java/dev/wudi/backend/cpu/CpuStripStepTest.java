package dev.wudi.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.WudiResult;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.TestTensors;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The strip-by-strip Adam step (one single-threaded sgemm and the fused pass per strip of rows) against
 * the whole-matrix step: the same tau_m to the bit after 300 steps, whatever the strip boundaries.
 */
class CpuStripStepTest {

    private static RowParallel parallel;
    private static int blasThreadsBefore;

    @BeforeAll
    static void start() {
        blasThreadsBefore = Blas.threads();
        Blas.setThreads(2);
        parallel = new RowParallel(2);
    }

    @AfterAll
    static void stop() {
        parallel.close();
        Blas.setThreads(blasThreadsBefore);
    }

    private static WudiResult solve(int rows, int cols, List<float[]> taus, AdamConfig cfg, int stripRows,
                                    int expectStripRows, List<Double> losses) {
        try (CpuWudiProblem p = new CpuWudiProblem("s", rows, cols, parallel, stripRows)) {
            assertEquals(expectStripRows, p.stripRows(), "strip path chosen as expected");
            for (float[] t : taus) {
                p.addTaskVector(t);
            }
            return p.solveAdam(cfg, losses == null ? null : (t, l) -> losses.add(l));
        }
    }

    /**
     * [rows, cols], strip height: 1000 rows in 2 blocks of 500: 200 gives 3 strips of 166-167 rows (500
     * not divisible by 200), 600 gives one strip per block (block shorter than a strip); 700 x 300 has cols
     * not a multiple of the kernel's 16 and 3 strips of 116-117 rows per block.
     */
    @ParameterizedTest(name = "[{0}, {1}] strips of {2}")
    @CsvSource({"1000, 256, 200", "1000, 256, 600", "700, 300, 130"})
    void stripsGiveTheWholeMatrixTrajectoryToTheBit(int rows, int cols, int stripRows) {
        List<float[]> taus = TestTensors.taskVectors(rows * 7L + cols, 3, rows, cols, 0.01f);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f);
        List<Double> wholeLoss = new ArrayList<>();
        List<Double> stripLoss = new ArrayList<>();
        WudiResult whole = solve(rows, cols, taus, cfg, 0, 0, wholeLoss);
        Blas.setThreads(2);
        WudiResult strips = solve(rows, cols, taus, cfg, stripRows, stripRows, stripLoss);
        assertEquals(2, Blas.threads(), "OpenBLAS's thread count is restored");
        assertArrayEquals(whole.tauM(), strips.tauM(), "tau_m after 300 steps");
        assertEquals(300, strips.steps());
        assertEquals(whole.lossBefore(), strips.lossBefore(), 1e-12 * Math.abs(whole.lossBefore()));
        assertEquals(whole.lossAfter(), strips.lossAfter(), 1e-12 * Math.abs(whole.lossAfter()));
        for (int t = 0; t < 300; t++) {
            assertEquals(wholeLoss.get(t), stripLoss.get(t), 1e-12 * Math.abs(wholeLoss.get(t)), "loss at step " + (t + 1));
        }
        double moved = 0.0;
        float[] start = TestTensors.sum(taus);
        for (int i = 0; i < start.length; i++) {
            moved = Math.max(moved, Math.abs(strips.tauM()[i] - start[i]));
        }
        assertTrue(moved > 0.3 * cfg.lr() * cfg.iterations(), "tau_m moved");
    }

    /** Strips that would fall below OpenBLAS's direct-kernel threshold, or a pass on one thread, fall back. */
    @ParameterizedTest(name = "[{0}, {1}] strips of {2}")
    @CsvSource({"700, 300, 100", "100, 100, 64", "1000, 256, 0"})
    void awkwardShapesUseTheWholeMatrixPath(int rows, int cols, int stripRows) {
        try (CpuWudiProblem p = new CpuWudiProblem("s", rows, cols, parallel, stripRows)) {
            assertEquals(0, p.stripRows());
        }
    }
}
