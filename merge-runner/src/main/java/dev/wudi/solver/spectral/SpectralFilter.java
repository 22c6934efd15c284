package dev.wudi.solver.spectral;

import java.util.Locale;

/**
 * A filter of the eigenvalues of C. Every solver here writes the merged task vector as (specification 2.3)
 *
 * <pre>
 *   tau = keep * tau0 - tau0 V diag(a) V^T + D V diag(b) V^T
 * </pre>
 *
 * with one coefficient pair (a_j, b_j) per eigenpair:
 * <ul>
 * <li>exponential (gradient flow to time t): a = f = 1 - exp(-2 lambda t), b = f / lambda: the exact
 *     solution of d tau/dt = -2 (tau C - D) from tau0;</li>
 * <li>Tikhonov (rho): a = lambda / (lambda + rho), b = 1 / (lambda + rho): the minimiser of
 *     L(tau) + rho ||tau - tau0||_F^2, a ridge towards the sum;</li>
 * <li>Landweber (k steps): a = 1 - (1 - eta lambda)^k, b = a / lambda with eta = 1 / lambda_max: exactly k
 *     plain gradient steps of size eta / 2 from tau0;</li>
 * <li>exact (ridge rho &gt;= 0): keep = 0, a = 0, b = 1 / (lambda + rho): D (C + rho I)^+.</li>
 * </ul>
 * Rank truncation keeps only the largest eigenpairs: the others get a = b = 0 (tau0 is left as it is in
 * those directions). Eigenvalues at or below the numerical zero of a float32 C (n * 2^-23 * lambda_max)
 * also get a = b = 0: there the loss is flat and D has no component.
 *
 * <p>The data-free default (parameter NaN) places the filter's knee at one cutoff eigenvalue
 * lambda_c = cutoff * trace(C) / rank(C) (cutoff {@link #DEFAULT_CUTOFF_FRACTION} unless given): exponential t = 1 / (2 lambda_c),
 * Tikhonov rho = lambda_c, Landweber k = lambda_max / lambda_c. See docs/quality.md for the measurements
 * behind it.
 */
public record SpectralFilter(Kind kind, double param, int rank, double cutoff) {

    /** A filter whose default (param NaN) uses {@link #DEFAULT_CUTOFF_FRACTION}. */
    public SpectralFilter(Kind kind, double param, int rank) {
        this(kind, param, rank, DEFAULT_CUTOFF_FRACTION);
    }

    /** The filter families. */
    public enum Kind {
        EXACT("exact"), EXPONENTIAL("exponential"), TIKHONOV("tikhonov"), LANDWEBER("landweber");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }

        /** Parses "exponential" (or "exp", "flow"), "tikhonov", "landweber"; case-insensitive. */
        public static Kind parse(String s) {
            String n = s.trim().toLowerCase(Locale.ROOT);
            switch (n) {
                case "exponential":
                case "exp":
                case "flow":
                    return EXPONENTIAL;
                case "tikhonov":
                case "ridge":
                    return TIKHONOV;
                case "landweber":
                    return LANDWEBER;
                default:
                    throw new IllegalArgumentException("unknown spectral filter '" + s
                            + "' (choose from exponential, tikhonov, landweber)");
            }
        }
    }

    /**
     * The default cutoff as a fraction of the mean nonzero eigenvalue trace(C) / rank(C). The eigenvalues
     * of C are dimensionless (trace(C) is the number of nonzero task vectors, whatever their scale), so
     * the rule is scale-free. 0.1 was chosen by a sweep of the fraction (0.003 .. 10) on digits6 and on the
     * synthetic tasks at task-vector scales x1 and x10 (docs/quality.md): the best fraction differs by
     * testbed (0.003 on digits6, 0.03 on the synthetic set at x1, 0.25 at x10), and 0.1 stays within 1.3
     * accuracy points and 0.012 interference of the best of each, where the exact minimiser loses 0.06
     * interference at x10 and the paper's Adam loses 15 points on digits6.
     */
    public static final double DEFAULT_CUTOFF_FRACTION = 0.1;

    public SpectralFilter {
        if (kind == null) {
            throw new IllegalArgumentException("filter kind is null");
        }
        if (!(Double.isNaN(param) && kind != Kind.EXACT) && !(param >= 0 && !Double.isInfinite(param))) {
            throw new IllegalArgumentException("invalid " + kind.label() + " parameter " + param);
        }
        if (rank < 0) {
            throw new IllegalArgumentException("rank must be >= 0, got " + rank);
        }
        if (Double.isNaN(cutoff)) {
            cutoff = DEFAULT_CUTOFF_FRACTION;
        }
        if (!(cutoff > 0) || Double.isInfinite(cutoff)) {
            throw new IllegalArgumentException("cutoff fraction must be a positive number, got " + cutoff);
        }
    }

    /** The coefficients for one spectrum, with the parameter actually used. */
    public record Coefficients(boolean keepSum, double[] a, double[] b, int used, double param) {
    }

    /** Eigenvalues at or below this are treated as zero (C is accumulated in float32). */
    public static double zeroThreshold(SymmetricEigen.EigenPairs e) {
        return zeroThreshold(e, e.n());
    }

    /**
     * The numerical zero of a float32 C of dimension {@code dimension} (n * 2^-23 * lambda_max) for eigenpairs that
     * may be those of a smaller matrix with the same nonzero spectrum (C restricted to the span of LoRA factors):
     * the threshold stays the full C's, so both computations filter the same eigenpairs.
     */
    public static double zeroThreshold(SymmetricEigen.EigenPairs e, int dimension) {
        return zeroThreshold(e.values(), dimension);
    }

    /** As {@link #zeroThreshold(SymmetricEigen.EigenPairs, int)} for eigenvalues in descending order. */
    public static double zeroThreshold(double[] values, int dimension) {
        return Math.max(values.length == 0 ? 0 : values[0], 0) * dimension * 0x1p-23;
    }

    /** The number of eigenvalues above the numerical zero. */
    public static int numericalRank(SymmetricEigen.EigenPairs e) {
        double tol = zeroThreshold(e);
        int r = 0;
        for (double v : e.values()) {
            if (v > tol) {
                r++;
            }
        }
        return r;
    }

    /** The data-free cutoff eigenvalue lambda_c = fraction * trace(C) / rank(C) (over nonzero eigenvalues). */
    public static double defaultCutoff(SymmetricEigen.EigenPairs e, double fraction) {
        return defaultCutoff(e.values(), fraction, e.n());
    }

    /** As {@link #defaultCutoff(SymmetricEigen.EigenPairs, double)} with the numerical zero of C's dimension. */
    static double defaultCutoff(double[] values, double fraction, int dimension) {
        double tol = zeroThreshold(values, dimension);
        double sum = 0;
        int r = 0;
        for (double v : values) {
            if (v > tol) {
                sum += v;
                r++;
            }
        }
        return r == 0 ? 0 : fraction * sum / r;
    }

    /** The filter's parameter for this spectrum: the given one, or the data-free default. */
    public double resolveParam(SymmetricEigen.EigenPairs e) {
        return resolveParam(e.values(), e.n());
    }

    private double resolveParam(double[] values, int dimension) {
        if (!Double.isNaN(param)) {
            return param;
        }
        double lc = defaultCutoff(values, cutoff, dimension);
        if (!(lc > 0)) {
            return 1; // C = 0: every coefficient is 0 whatever the parameter
        }
        switch (kind) {
            case EXPONENTIAL:
                return 1 / (2 * lc);
            case TIKHONOV:
                return lc;
            case LANDWEBER:
                return Math.max(1, values[0] / lc);
            default:
                return 0; // exact: no ridge
        }
    }

    public Coefficients coefficients(SymmetricEigen.EigenPairs e) {
        return coefficients(e, e.n());
    }

    /**
     * The coefficients of eigenpairs of a matrix with the nonzero spectrum of a C of dimension {@code dimension}
     * (see {@link #zeroThreshold(SymmetricEigen.EigenPairs, int)}).
     */
    public Coefficients coefficients(SymmetricEigen.EigenPairs e, int dimension) {
        return coefficients(e.values(), dimension, zeroThreshold(e, dimension));
    }

    /**
     * As {@link #coefficients(SymmetricEigen.EigenPairs, int)} with the numerical zero given: the exact solver in
     * double ({@link ExactMinimiser#zeroThreshold(int, double)}), or none (negative) with a ridge, where
     * 1 / (lambda + rho) stays bounded and the Cholesky solve keeps every eigenvalue.
     */
    public Coefficients coefficients(SymmetricEigen.EigenPairs e, int dimension, double zeroThreshold) {
        return coefficients(e.values(), dimension, zeroThreshold);
    }

    /**
     * The coefficients for eigenvalues alone (descending, all of C's: the data-free default reads the whole
     * spectrum), as {@link #coefficients(SymmetricEigen.EigenPairs, int, double)}: a solver that computes only the
     * eigenvectors it needs asks this first how many that is ({@link Coefficients#used()}).
     */
    public Coefficients coefficients(double[] values, int dimension, double zeroThreshold) {
        int n = values.length;
        double p = resolveParam(values, dimension);
        double tol = zeroThreshold;
        double lmax = n == 0 ? 0 : values[0];
        int limit = rank == 0 ? n : Math.min(rank, n);
        double[] a = new double[n];
        double[] b = new double[n];
        int used = 0;
        for (int j = 0; j < limit; j++) {
            double lam = values[j];
            if (!(lam > tol)) {
                break; // descending: the rest are zero too
            }
            switch (kind) {
                case EXPONENTIAL: {
                    double f = -Math.expm1(-2 * lam * p); // 1 - exp(-2 lambda t), accurate for small lambda t
                    a[j] = f;
                    b[j] = f / lam;
                    break;
                }
                case TIKHONOV:
                    a[j] = lam / (lam + p);
                    b[j] = 1 / (lam + p);
                    break;
                case LANDWEBER: {
                    double f = -Math.expm1(p * Math.log1p(-lam / lmax)); // 1 - (1 - eta lambda)^k, eta = 1/lambda_max
                    a[j] = f;
                    b[j] = f / lam;
                    break;
                }
                default:
                    b[j] = 1 / (lam + p); // exact: D (C + rho I)^+
                    break;
            }
            used++;
        }
        return new Coefficients(kind != Kind.EXACT, a, b, used, p);
    }

    public String describe() {
        return kind.label() + (Double.isNaN(param) ? " (default)" : " " + param) + (rank > 0 ? ", rank " + rank : "");
    }
}
