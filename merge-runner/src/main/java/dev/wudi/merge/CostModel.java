package dev.wudi.merge;

import dev.wudi.method.MergeMethods;
import dev.wudi.model.Layout;
import dev.wudi.solver.SolverSpec;

/**
 * Estimates of what each planned tensor costs: floating-point operations, peak memory of the solver's state,
 * and time at a given rate. The counts follow the engine's own arithmetic (SPEC 2.2, docs/design.md): per
 * matrix [r = out, c = in] and n task vectors, the Gram form costs n (3 r c^2) where r >= c (SYRK, then D = tau G)
 * or n (r c^2 + 3 r^2 c) otherwise; each Adam step one [r, c] x [c, c] product, 2 r c^2; the spectral solvers an
 * eigendecomposition (about 9 c^3 for LAPACK's dsyevd with vectors) and three [r, c] x [c, c] products.
 * Memory counts float32 copies: Adam keeps C [c, c], the smaller Gram matrix, and about nine [r, c] arrays
 * (D, the sum, a task vector, tau_m, m, v, the product P, W_0 and one read buffer; one more where the matrix
 * is turned from [in, out]); the spectral solvers a heap copy of C, D and tau_0 and the double eigenvectors.
 * Element-wise work streams in chunks of a million elements per model.
 */
public final class CostModel {

    /** Rates for an estimate without a measurement (2 CPU cores with AVX2, docs/benchmarks.md). */
    public static final double NOMINAL_FLOPS = 50e9;
    public static final double NOMINAL_READ_BYTES = 1e9;

    private static final long CHUNK = 1 << 20;

    private CostModel() {
    }

    /** The estimate of one tensor. */
    public record Cost(double flops, long peakBytes, double seconds) {
    }

    /**
     * @param flopsPerSecond  the device's rate on the Adam step's product (measured by {@code wudi plan})
     * @param bytesPerSecond  the rate at which inputs are read and decoded
     */
    public static Cost of(MergePlan.Entry e, MergeOptions o, double flopsPerSecond, double bytesPerSecond) {
        int n = e.models().size();
        long numel = e.numel();
        double readBytes = (double) numel * (n + 1) * Math.max(1, e.base() == null ? 4 : e.base().info().dtype().bytes());
        if (e.action() == MergePlan.Action.METHOD && o.method() == MergeMethods.WUDI && e.layout() != Layout.VECTOR) {
            Layout.Matrices m = e.layout().matrices(e.base().info().shape());
            double r = m.rows();
            double c = m.cols();
            double setup = n * (r >= c ? 3 * r * c * c : r * c * c + 3 * r * r * c);
            double min = Math.min(r, c);
            SolverSpec s = o.effectiveSolver();
            double solve;
            double floats;
            if (s instanceof SolverSpec.Adam a) {
                solve = (a.config().iterations() + 1) * 2 * r * c * c;
                floats = c * c + min * min + (9 + (m.transposed() ? 1 : 0)) * r * c;
            } else {
                solve = 9 * c * c * c + 3 * 2 * r * c * c;
                floats = 2 * c * c + min * min + 12 * r * c + 6 * c * c;  // + a heap copy, doubles as 2 floats
            }
            int lowRank = loraRank(e, m);
            if (!(s instanceof SolverSpec.Adam) && lowRank > 0) {
                // on the adapters' factors (LowRankWudi): per task t_i [r, R] and its Gram, a QR of [c, R], an
                // eigendecomposition of [R, R], and tau_m = x U^T [r, c] for the output; a few [r, R] arrays
                double rr = lowRank;
                double flops = n * (2 * r * rr * rr + 2 * rr * rr * r) + 4 * c * rr * rr + 9 * rr * rr * rr
                        + 2 * r * c * rr;
                double lowFloats = 2 * (6 * r * rr + c * rr) + 2 * r * c;   // doubles as 2 floats; the output
                return new Cost(flops, (long) (4 * lowFloats), flops / flopsPerSecond + readBytes / bytesPerSecond);
            }
            double flops = m.count() * (setup + solve);
            return new Cost(flops, (long) (4 * floats), flops / flopsPerSecond + readBytes / bytesPerSecond);
        }
        long chunk = Math.min(numel, CHUNK);
        double flops = e.action() == MergePlan.Action.COPY || e.action() == MergePlan.Action.FROM_MODEL
                ? 0 : (double) numel * (n + 1) * 2;
        return new Cost(flops, 4L * chunk * (n + 2), readBytes / bytesPerSecond);
    }

    /**
     * The sum of the ranks of the LoRA adapters that adapt this single matrix, where every model is such an adapter
     * or leaves it alone and the factors are smaller than the matrix (the spectral solvers then work on them); else 0.
     */
    static int loraRank(MergePlan.Entry e, Layout.Matrices m) {
        if (m.count() != 1 || e.base() == null) {
            return 0;
        }
        int r = 0;
        for (dev.wudi.checkpoint.TensorRef t : e.sources()) {
            if (t == e.base()) {
                continue;
            }
            if (!(t.computed() instanceof dev.wudi.lora.LoraTensor lora) || t.deltaOver(e.base()) == null) {
                return 0;
            }
            r += lora.module().rank();
        }
        return r < m.cols() ? r : 0;
    }

    /** Relative weight of a tensor for progress: its estimated seconds at the nominal rates, in microseconds. */
    public static long work(MergePlan.Entry e, MergeOptions o) {
        return Math.max(1, (long) (of(e, o, NOMINAL_FLOPS, NOMINAL_READ_BYTES).seconds() * 1e6));
    }
}
