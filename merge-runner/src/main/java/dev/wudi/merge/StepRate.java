package dev.wudi.merge;

import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.AdamConfig;
import java.util.Random;

/**
 * Measures a backend's rate on WUDI's Adam step (one [r, c] x [c, c] product and the fused update) on a
 * [768, 768] problem, for the time estimates of `wudi plan`: the difference between a 12-step and a 2-step
 * solve, so that the one-off setup and the first-call costs (JIT, library loading, device context) cancel.
 */
public final class StepRate {

    private static final int SIZE = 768;

    private StepRate() {
    }

    /** Floating-point operations per second of the step's product, as measured (about 0.3 s of work). */
    public static double flopsPerSecond(Backend backend) {
        float[] tau = new float[SIZE * SIZE];
        Random r = new Random(1);
        for (int i = 0; i < tau.length; i++) {
            tau[i] = (float) (r.nextGaussian() * 1e-3);
        }
        solve(backend, tau, 2);                         // warm-up
        long best = Long.MAX_VALUE;
        for (int rep = 0; rep < 2; rep++) {
            long many = solve(backend, tau, 12);
            long few = solve(backend, tau, 2);
            best = Math.min(best, Math.max(1, many - few));
        }
        double perStep = best / 1e9 / 10;
        return 2.0 * SIZE * SIZE * SIZE / perStep;
    }

    private static long solve(Backend backend, float[] tau, int steps) {
        try (WudiProblem p = backend.newProblem("step-rate probe", SIZE, SIZE)) {
            p.addTaskVector(tau);
            long t0 = System.nanoTime();
            p.solveAdam(AdamConfig.paper().withIterations(steps), null);
            return System.nanoTime() - t0;
        }
    }
}
