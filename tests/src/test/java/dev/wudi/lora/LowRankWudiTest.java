package dev.wudi.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.hub.PeftAdapter;
import dev.wudi.hub.PeftFixtures;
import dev.wudi.hub.Tensor;
import dev.wudi.solver.spectral.ExactMinimiser;
import dev.wudi.solver.spectral.GramMatrices;
import dev.wudi.solver.spectral.LapackEigen;
import dev.wudi.solver.spectral.SpectralFilter;
import dev.wudi.solver.spectral.SpectralSolver;
import dev.wudi.solver.spectral.SymmetricEigen;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The spectral solvers on LoRA factors ({@link LowRankWudi}, the CPU backend's solve) against the same solvers on the
 * dense task vectors (GramMatrices + SpectralSolver), on the factors of real third-party GPT-2 adapters (layer 0's
 * c_attn, alphas 16, 32 and 8, one rank-4 adapter whose B is all zero): the same merged task vector, the same losses.
 */
class LowRankWudiTest {

    static final float U = 0x1p-24f;   // float32 unit roundoff

    static final String[] ADAPTERS = {"gpt2-lora-cattn-r8/stathopoan__lightweight-ft",
        "gpt2-lora-cattn-r8/ybriz__generative-ai", "gpt2-lora-cattn-r8/anirudh-ak__peft-gpt2",
        "gpt2-lora-cattn-r4/sukhmandhawan__lightweight-ft"};
    static final String MODULE = "transformer.h.0.attn.c_attn";

    @Test
    void factorsGiveTheDenseSolutionForEveryFilter() throws Exception {
        try (Backend cpu = Backends.cpu(0)) {
            factorsGiveTheDenseSolutionForEveryFilter(cpu);
        }
    }

    private static void factorsGiveTheDenseSolutionForEveryFilter(Backend cpu) throws Exception {
        List<LowRankWudi.Factors> factors = new ArrayList<>();
        List<float[]> dense = new ArrayList<>();
        int rows = 0;
        int cols = 0;
        for (String name : ADAPTERS) {
            PeftAdapter a = PeftAdapter.read(PeftFixtures.adapter(name));
            Tensor la = a.loraA(MODULE);                  // [r, in]
            Tensor lb = a.loraB(MODULE);                  // [out, r]
            rows = lb.dim(0);
            cols = la.dim(1);
            factors.add(new LowRankWudi.Factors(lb.data(), la.data(), la.dim(0), a.scaling(MODULE)));
            float[] tau = new float[rows * cols];         // tau = s B A in the paper's [out, in]
            dev.wudi.solver.spectral.Gemm.sgemm(false, false, rows, cols, la.dim(0), (float) a.scaling(MODULE),
                    lb.data(), la.data(), 0f, tau);
            dense.add(tau);
        }
        GramMatrices g = GramMatrices.of(rows, cols, dense);
        SymmetricEigen.EigenPairs e = new LapackEigen().decompose(g.c(), cols);
        // the exact solver: against the dense exact minimiser in double, which both now are (ExactMinimiser): the dense
        // task vectors are s B A rounded to float32 (relative u), which the least-squares solution amplifies by at most
        // the task vectors' condition, sqrt(lambda_max / lambda_min) over the eigenvalues used
        try (ExactMinimiser exact = new ExactMinimiser(rows, cols)) {
            dense.forEach(exact::add);
            ExactMinimiser.Solution d = exact.solve(0);
            LowRankWudi.Solution s = cpu.solveLowRank(rows, cols, factors, new SpectralFilter(SpectralFilter.Kind.EXACT,
                    0, 0));
            assertEquals(d.rankUsed(), s.used(), "exact: eigenpairs used");
            double smallest = e.values()[Math.min(d.rankUsed(), e.n()) - 1];
            double bound = 8.0 * Math.sqrt(rows) * U * Math.sqrt(e.max() / Math.abs(smallest));
            double rel = relative(s.dense(), d.tau());
            assertTrue(rel <= bound, "exact: factor solution differs from the dense one by " + rel + ", bound " + bound);
            assertEquals(d.lossAfter(), s.lossAfter(), bound * Math.abs(d.lossBefore()), "exact: loss after");
        }
        List<SpectralFilter> filters = List.of(
                new SpectralFilter(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0),
                new SpectralFilter(SpectralFilter.Kind.TIKHONOV, Double.NaN, 0),
                new SpectralFilter(SpectralFilter.Kind.LANDWEBER, Double.NaN, 0),
                new SpectralFilter(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 10));
        for (SpectralFilter f : filters) {
            SpectralSolver.Solution d = new SpectralSolver(new LapackEigen()).solve(g, f);
            LowRankWudi.Solution s = cpu.solveLowRank(rows, cols, factors, f);
            assertEquals(List.of(3), s.zeroTasks(), "the zero-B adapter has weight 0");
            assertEquals(d.used(), s.used(), f.describe() + ": eigenpairs used");
            // The dense C is accumulated in float32 from dot products of length rows: a relative error of about
            // sqrt(rows) * u (the probabilistic rounding bound of a sum), which the filter amplifies by at most
            // lambda_max over the smallest eigenvalue it divides by (the smallest used, or the default knee).
            double smallest = e.values()[d.used() - 1];
            double cond = f.kind() == SpectralFilter.Kind.EXACT ? e.max() / smallest : e.max() / Math.max(smallest,
                    SpectralFilter.defaultCutoff(e, SpectralFilter.DEFAULT_CUTOFF_FRACTION));
            double bound = 8.0 * Math.sqrt(rows) * U * cond;
            double rel = relative(s.dense(), d.tau());
            assertTrue(rel <= bound, f.describe() + ": factor solution differs from the dense one by " + rel
                    + " (relative), bound " + bound);
            assertEquals(d.lossBefore(), s.lossBefore(), 8.0 * Math.sqrt(rows) * U * Math.abs(d.lossBefore()),
                    "loss before");
            assertEquals(d.lossAfter(), s.lossAfter(), bound * Math.abs(d.lossBefore()), "loss after");
        }
    }

    static double relative(float[] a, float[] b) {
        double d = 0;
        double n = 0;
        for (int i = 0; i < a.length; i++) {
            d += Math.pow((double) a[i] - b[i], 2);
            n += (double) b[i] * b[i];
        }
        return Math.sqrt(d / n);
    }
}
