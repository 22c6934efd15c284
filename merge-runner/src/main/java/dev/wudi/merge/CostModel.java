package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import dev.wudi.method.MergeMethods;
import dev.wudi.model.Layout;
import dev.wudi.solver.SolverSpec;

/**
 * Estimates of what each planned tensor costs: floating-point operations, peak memory of the solver's state,
 * and time at a given rate. The counts follow the engine's own arithmetic (specification 2.2, docs/design.md): per
 * matrix [r = out, c = in] and n task vectors, the Gram form costs n (3 r c^2) where r >= c (SYRK, then D = tau G)
 * or n (r c^2 + 3 r^2 c) otherwise; each Adam step one [r, c] x [c, c] product, 2 r c^2; the other solvers as
 * {@link #spectralFlops} counts them.
 * Memory counts float32 copies: Adam keeps C [c, c], the smaller Gram matrix, and about nine [r, c] arrays
 * (D, the sum, a task vector, tau_m, m, v, the product P, W_0 and one read buffer; one more where the matrix
 * is turned from [in, out]); the other solvers as {@link #spectralFloats} counts them.
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
    public static Cost of(MergePlan.Entry e, MergeSpec o, double flopsPerSecond, double bytesPerSecond) {
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
                solve = spectralFlops(s, r, c);
                floats = spectralFloats(s, r, c, min) + (m.transposed() ? r * c : 0);
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
     * The work of the non-Adam solvers on one [r, c] matrix: the reduction of C to tridiagonal form (4/3 c^3) and the
     * back-transformation of the eigenvectors used (2 c^3 at most), then three [r, c] x [c, c] products (the loss
     * before, and tau0 V, D V and the update together at most); the exact solver does it in double, which runs at
     * about half the rate: counted twice. With a ridge, a Cholesky factorisation (c^3 / 3) and its solve (2 r c^2).
     */
    static double spectralFlops(SolverSpec s, double r, double c) {
        double eigen = (4.0 / 3 + 2) * c * c * c + 3 * 2 * r * c * c;
        if (s instanceof SolverSpec.Exact e && e.ridge() == 0) {
            return 2 * eigen;
        }
        if (s instanceof SolverSpec.Exact) {
            return c * c * c / 3 + 2 * r * c * c + 2 * r * c * c;
        }
        return eigen;
    }

    /**
     * The peak, in floats, of the non-Adam solvers on one [r, c] matrix on the CPU (an upper bound: the eigenvectors
     * kept are counted as all c of them):
     * <ul>
     * <li>spectral and flow ({@code SpectralSolver.solveInPlace}): C and the eigenvectors used, 2 c^2, or while the
     *     task vectors are added C and the smaller Gram matrix; D, the sum, the task vector being added or the two
     *     [r, r_used] products, the product for the loss, W_0, the read buffer and the result: 7 r c;</li>
     * <li>exact without a ridge ({@code ExactMinimiser}, in double: a double counts as 2 floats): C and the
     *     eigenvectors used, 4 c^2; the smaller Gram matrix while adding, 2 min^2; D, the scratch, the loss's product
     *     in double, the float32 sum, W_0, the read buffer and the result: 9 r c;</li>
     * <li>exact with a ridge ({@code RidgeCholesky}): the Gram form (c^2 + min^2 + 3 r c), a heap copy of C and D the
     *     factorisation overwrites and the copy the native call may make of them (2 c^2 + 2 r c), W_0 and the read
     *     buffer; in double (an ill-conditioned C + rho I), C and D widened too (2 c^2 + 2 r c more).</li>
     * </ul>
     */
    static double spectralFloats(SolverSpec s, double r, double c, double min) {
        if (s instanceof SolverSpec.Exact e && e.ridge() == 0) {
            return 4 * c * c + 2 * min * min + 9 * r * c;
        }
        if (s instanceof SolverSpec.Exact) {
            return 5 * c * c + min * min + 9 * r * c;
        }
        return 2 * c * c + min * min + 7 * r * c;
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
    public static long work(MergePlan.Entry e, MergeSpec o) {
        return Math.max(1, (long) (of(e, o, NOMINAL_FLOPS, NOMINAL_READ_BYTES).seconds() * 1e6));
    }
}
