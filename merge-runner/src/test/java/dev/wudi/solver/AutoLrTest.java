package dev.wudi.solver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.WudiResult;
import dev.wudi.backend.cpu.CpuBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

class AutoLrTest {

    @Test
    void parsesAutoAndAFactor() {
        assertEquals(AutoLr.DEFAULT_FACTOR, AutoLr.parse("auto").factor());
        assertEquals(AutoLr.DEFAULT_FACTOR, AutoLr.parse(" AUTO ").factor());
        assertEquals(0.05, AutoLr.parse("auto:0.05").factor());
        assertEquals(2.0, AutoLr.parse("auto*2").factor());
        assertNull(AutoLr.parse("1e-5"));
        assertThrows(IllegalArgumentException.class, () -> AutoLr.parse("auto:x"));
        assertThrows(IllegalArgumentException.class, () -> AutoLr.parse("auto0.1"));
        assertThrows(IllegalArgumentException.class, () -> AutoLr.parse("auto:-1"));
    }

    @Test
    void lrIsTheFactorTimesTheRms() {
        AutoLr a = AutoLr.defaults();
        // the paper's 1e-5 at a CLIP-like task-vector RMS of 1e-3
        assertEquals(1e-5f, a.lrFor(1e-3), 1e-12f);
        assertEquals(2.5e-4f, new AutoLr(0.1).lrFor(2.5e-3), 1e-10f);
        // a tensor no task changed: the paper's lr (nothing moves anyway)
        assertEquals(AdamConfig.PAPER_LR, a.lrFor(0));
        assertEquals(AdamConfig.PAPER_LR, a.lrFor(Double.NaN));
    }

    /**
     * Why the rule: with lr proportional to the RMS, Adam on s * tau_i ends at s times its end point on
     * tau_i (eps aside), while a fixed lr does not. Checked on the CPU backend at s = 1000.
     */
    @Test
    void autoLrMakesAdamScaleEquivariantAndFixedLrDoesNot() {
        int rows = 20;
        int cols = 16;
        List<float[]> taus = TestTensors.taskVectors(5, 3, rows, cols, 1e-3f);
        float s = 1000f;
        try (Backend backend = new CpuBackend(1)) {
            float[] small = solve(backend, taus, 1f, AutoLr.defaults(), rows, cols);
            float[] big = solve(backend, taus, s, AutoLr.defaults(), rows, cols);
            assertTrue(maxRelDiff(small, big, s) < 1e-4, "auto lr: " + maxRelDiff(small, big, s));
            float[] smallFixed = solve(backend, taus, 1f, null, rows, cols);
            float[] bigFixed = solve(backend, taus, s, null, rows, cols);
            assertTrue(maxRelDiff(smallFixed, bigFixed, s) > 0.05, "fixed lr: " + maxRelDiff(smallFixed, bigFixed, s));
        }
    }

    private static float[] solve(Backend backend, List<float[]> taus, float scale, AutoLr auto, int rows, int cols) {
        double ss = 0;
        long n = 0;
        try (WudiProblem p = backend.newProblem("w", rows, cols)) {
            for (float[] t : taus) {
                float[] x = t.clone();
                for (int i = 0; i < x.length; i++) {
                    x[i] *= scale;
                    ss += (double) x[i] * x[i];
                    n++;
                }
                p.addTaskVector(x);
            }
            float lr = auto == null ? AdamConfig.PAPER_LR : auto.lrFor(Math.sqrt(ss / n));
            WudiResult r = p.solve(new SolverSpec.Adam(AdamConfig.paper().withLr(lr)), null);
            return r.tauM();
        }
    }

    private static double maxRelDiff(float[] small, float[] big, float s) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < small.length; i++) {
            num = Math.max(num, Math.abs(big[i] / s - small[i]));
            den = Math.max(den, Math.abs(small[i]));
        }
        return num / den;
    }
}
