package dev.wudi.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.TestTensors;
import dev.wudi.solver.spectral.GramMatrices;
import dev.wudi.solver.spectral.LapackEigen;
import dev.wudi.solver.spectral.SpectralSolver;
import java.util.List;
import org.junit.jupiter.api.Test;

/** WudiProblem.solve on the CPU: Adam as solveAdam, the spectral solvers on the problem's own Gram form. */
class CpuSpectralSolveTest {

    private static final int ROWS = 18;
    private static final int COLS = 12;
    private static final List<float[]> TAUS = TestTensors.taskVectors(3, 3, ROWS, COLS, 1e-2f);

    @Test
    void adamGoesToSolveAdam() {
        try (CpuBackend b = new CpuBackend(1);
             WudiProblem p1 = problem(b);
             WudiProblem p2 = problem(b)) {
            AdamConfig cfg = AdamConfig.paper().withIterations(20);
            assertArrayEquals(p1.solveAdam(cfg, null).tauM(), p2.solve(new SolverSpec.Adam(cfg), null).tauM(), 0f);
        }
    }

    @Test
    void spectralSolversUseTheProblemsGramForm() {
        GramMatrices heap = GramMatrices.of(ROWS, COLS, TAUS);
        for (SolverSpec spec : List.of(new SolverSpec.Exact(0), new SolverSpec.Flow(2.5), SolverSpec.Spectral.defaults())) {
            try (CpuBackend b = new CpuBackend(1); WudiProblem p = problem(b)) {
                WudiResult r = p.solve(spec, null);
                SpectralSolver.Solution want = new SpectralSolver(new LapackEigen()).solve(heap, spec);
                float[] got = r.tauM();
                double err = 0;
                double mag = 0;
                for (int i = 0; i < got.length; i++) {
                    err = Math.max(err, Math.abs(got[i] - want.tau()[i]));
                    mag = Math.max(mag, Math.abs(want.tau()[i]));
                }
                assertTrue(err < 1e-4 * mag, spec.describe() + ": " + err + " vs " + mag);
                assertEquals(want.lossBefore(), r.lossBefore(), 1e-3 * Math.abs(want.lossBefore()));
                assertTrue(r.lossAfter() < r.lossBefore());
                assertEquals(0, r.steps());
                assertTrue(r.details().containsKey("filter_param") && r.details().containsKey("rank_used"));
            }
        }
    }

    @Test
    void aBackendWithoutSpectralSolversSaysSo() {
        WudiProblem bare = new WudiProblem() {
            @Override
            public void addTaskVector(float[] tau) {
            }

            @Override
            public int taskCount() {
                return 0;
            }

            @Override
            public int zeroTaskCount() {
                return 0;
            }

            @Override
            public WudiResult solveAdam(AdamConfig config, StepListener listener) {
                return new WudiResult(new float[1], 1, 0, config.iterations());
            }

            @Override
            public void close() {
            }
        };
        assertEquals(300, bare.solve(new SolverSpec.Adam(AdamConfig.paper()), null).steps());
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> bare.solve(new SolverSpec.Exact(0), null));
        assertTrue(e.getMessage().contains("exact"));
        try (CpuBackend b = new CpuBackend(1); WudiProblem p = b.newProblem("t", 2, 2)) {
            assertThrows(IllegalStateException.class, () -> p.solve(new SolverSpec.Flow(1), null));
        }
    }

    private static WudiProblem problem(CpuBackend b) {
        WudiProblem p = b.newProblem("w", ROWS, COLS);
        TAUS.forEach(p::addTaskVector);
        return p;
    }
}
