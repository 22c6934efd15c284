package dev.wudi.bench;

import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.GramMatrices;
import dev.wudi.solver.spectral.LapackEigen;
import dev.wudi.solver.spectral.SpectralSolver;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * What a spectral solve costs against the paper's 300 Adam steps, per square weight [n, n] with 8 dense
 * task vectors (C of full rank, the worst case for the eigendecomposition): dsyevd against ssyevd, the
 * whole spectral solve, and Adam (timed over 30 steps, scaled to 300).
 */
public final class SpectralCostBench {

    private SpectralCostBench() {
    }

    public static void run(PrintStream out, Backend backend, int[] sizes) {
        out.println("Backend: " + backend.describe());
        out.println();
        out.println("| n | dsyevd (s) | ssyevd (s) | spectral solve, all of it (s) | Adam 300 steps (s, from 30) | Adam / spectral |");
        out.println("|---:|---:|---:|---:|---:|---:|");
        for (int n : sizes) {
            Random r = new Random(n);
            List<float[]> taus = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                float[] x = new float[n * n];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (r.nextGaussian() * 1e-3);
                }
                taus.add(x);
            }
            GramMatrices g = GramMatrices.of(n, n, taus);
            double dsy = best(() -> new LapackEigen(true).decompose(g.c(), n));
            double ssy = best(() -> new LapackEigen(false).decompose(g.c(), n));
            SpectralSolver solver = new SpectralSolver(new LapackEigen());
            double spectral = best(() -> solver.solve(g, SolverSpec.Spectral.defaults()));
            double adam;
            try (WudiProblem p = backend.newProblem("w", n, n)) {
                taus.forEach(p::addTaskVector);
                long t0 = System.nanoTime();
                p.solveAdam(AdamConfig.paper().withIterations(30), null);
                adam = (System.nanoTime() - t0) / 1e9 * 10;
            }
            out.printf(Locale.ROOT, "| %d | %.3f | %.3f | %.3f | %.2f | %.0fx |%n", n, dsy, ssy, spectral, adam,
                    adam / spectral);
        }
        out.println();
    }

    /** Best of two runs (the first one warms up). */
    private static double best(Runnable r) {
        double b = Double.POSITIVE_INFINITY;
        for (int k = 0; k < 2; k++) {
            long t0 = System.nanoTime();
            r.run();
            b = Math.min(b, (System.nanoTime() - t0) / 1e9);
        }
        return b;
    }
}
