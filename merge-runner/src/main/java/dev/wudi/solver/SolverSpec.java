package dev.wudi.solver;

import dev.wudi.solver.spectral.SpectralFilter;

/**
 * How the interference loss of one weight is minimised (specification 2.1 and 2.3). {@link Adam} with the paper's
 * settings is the default; the others are one symmetric eigendecomposition of C = V diag(lambda) V^T
 * followed by a filter of the eigenvalues (solver/spectral).
 */
public sealed interface SolverSpec {

    /** Short name for reports: "adam", "exact", "flow", "spectral". */
    String name();

    /** One line with the parameters, for reports and tables. */
    String describe();

    /** The paper's solver: PyTorch-exact Adam from the sum of task vectors (specification 2.1). */
    record Adam(AdamConfig config) implements SolverSpec {
        public Adam {
            if (config == null) {
                throw new IllegalArgumentException("Adam needs a config");
            }
        }

        @Override
        public String name() {
            return "adam";
        }

        @Override
        public String describe() {
            return "adam lr " + config.lr() + ", " + config.iterations() + " steps";
        }
    }

    /** The minimiser tau_m = D (C + ridge I)^+ (specification 2.3, "exact"). */
    record Exact(double ridge) implements SolverSpec {
        public Exact {
            if (!(ridge >= 0) || Double.isInfinite(ridge)) {
                throw new IllegalArgumentException("ridge must be a finite number >= 0, got " + ridge);
            }
        }

        @Override
        public String name() {
            return "exact";
        }

        @Override
        public String describe() {
            return ridge == 0 ? "exact minimiser D C^+" : "exact minimiser D (C + " + ridge + " I)^-1";
        }
    }

    /**
     * The gradient flow d tau/dt = -grad L from the sum of task vectors, at time t, in closed form. A time
     * of NaN takes the data-free default of {@link SpectralFilter} (the same as `--solver spectral`).
     */
    record Flow(double time) implements SolverSpec {
        public Flow {
            if (!Double.isNaN(time) && (!(time >= 0) || Double.isInfinite(time))) {
                throw new IllegalArgumentException("flow time must be a finite number >= 0, got " + time);
            }
        }

        @Override
        public String name() {
            return "flow";
        }

        @Override
        public String describe() {
            return Double.isNaN(time) ? "gradient flow (data-free default time)" : "gradient flow to t = " + time;
        }
    }

    /**
     * A spectral filter of the eigenvalues (SWUDI-style), with optional rank truncation. A filter whose
     * parameter is left out (NaN) takes the data-free default rule of {@link SpectralFilter}.
     *
     * @param rank   keep only the rank largest eigenpairs (0: all)
     * @param cutoff for the data-free default (param NaN): the filter's knee lambda_c as a fraction of the
     *               mean nonzero eigenvalue of C ({@link SpectralFilter#DEFAULT_CUTOFF_FRACTION} if NaN)
     */
    record Spectral(SpectralFilter.Kind kind, double param, int rank, double cutoff) implements SolverSpec {

        public Spectral(SpectralFilter.Kind kind, double param, int rank) {
            this(kind, param, rank, Double.NaN);
        }

        public Spectral {
            if (!Double.isNaN(cutoff) && !(cutoff > 0 && !Double.isInfinite(cutoff))) {
                throw new IllegalArgumentException("cutoff fraction must be a positive number, got " + cutoff);
            }
            if (kind == null) {
                throw new IllegalArgumentException("a spectral filter kind is needed");
            }
            if (!Double.isNaN(param) && !(param > 0 && !Double.isInfinite(param))) {
                throw new IllegalArgumentException("filter parameter must be a positive finite number, got " + param);
            }
            if (rank < 0) {
                throw new IllegalArgumentException("rank must be >= 0 (0 = all), got " + rank);
            }
        }

        /** `--solver spectral` with no further options: the data-free default. */
        public static Spectral defaults() {
            return new Spectral(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0);
        }

        @Override
        public String name() {
            return "spectral";
        }

        @Override
        public String describe() {
            return "spectral " + kind.label() + (Double.isNaN(param)
                    ? " (data-free default" + (Double.isNaN(cutoff) ? ")" : ", cutoff " + cutoff + ")") : " " + param)
                    + (rank > 0 ? ", rank " + rank : "");
        }
    }
}
