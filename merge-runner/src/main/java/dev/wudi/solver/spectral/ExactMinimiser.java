package dev.wudi.solver.spectral;

import dev.wudi.linalg.OpenBlasEnvironment;
import dev.wudi.linalg.SelectedEigenpairs;
import dev.wudi.solver.SolverSpec;
import java.nio.DoubleBuffer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.openblas.global.openblas;

/**
 * The exact minimiser tau_m = D C^+ of the interference loss (specification 2.3), to the precision of its float32 inputs.
 *
 * <p>Why double. C = sum_i w_i tau_i^T tau_i squares the task vectors' singular values: a direction in which they are
 * 1e-4 of their largest has an eigenvalue 1e-8 of lambda_max. Accumulated in float32, C carries an error of about
 * in * 2^-24 * lambda_max in every eigenvalue, so every eigenvalue below that is noise and must be dropped (the float32
 * path's numerical zero, n * 2^-23 * lambda_max) although it carries real signal: on a 256 x 256 layer that cost the
 * float32 exact solver a loss 2.4x the true minimum. The inputs themselves are exact float32 numbers, so C, D and K
 * formed in double from them are exact to double rounding, and so are the products with the eigenvectors here.
 *
 * <p>The numerical zero. LAPACK's dsyevd returns eigenvalues with an absolute error of order n * 2^-53 * ||C||, and
 * forming C in double adds an error of the same order (sums of at most rows * tasks products per element). An
 * eigenvalue at or below {@link #zeroThreshold}(n, lambda_max) = n * 2^-52 * lambda_max is therefore indistinguishable
 * from zero and gets coefficient 0 (where C is exactly rank-deficient, as it is whenever tasks * rows &lt; cols, its
 * zero eigenvalues come out at ~1e-16 lambda_max and are dropped); every eigenvalue above is resolved to better than
 * half its size, so 1 / lambda is meaningful and the minimiser agrees with a float64 pseudo-inverse.
 *
 * <p>Memory: C, D and one [rows, cols] scratch in double, and the r eigenvectors used (r &lt;= cols) while the
 * eigendecomposition runs ({@link SelectedEigenpairs}: reduction to tridiagonal form in place, MRRR for the r
 * eigenvectors only; dsyevd would need C, a workspace of 2 n^2 doubles and, row-major, a transposed copy); the
 * float32 result. Not thread-safe; close it to free the native buffers.
 */
public final class ExactMinimiser implements AutoCloseable {

    static {
        OpenBlasEnvironment.prepare();                  // before openblas loads and reads its environment
    }

    private final int rows;
    private final int cols;
    private DoublePointer c;         // [cols, cols], upper triangle accumulated by dsyrk, mirrored before use
    private boolean cMirrored;       // the lower triangle of c is current (no task vector added since)
    private boolean consumed;        // solve() decomposed C in place: it holds reflectors now
    private DoublePointer d;         // [rows, cols]
    private DoublePointer tau;       // scratch: the task vector being added, widened
    private DoublePointer gram;      // scratch: its smaller Gram matrix
    private final float[] tau0;
    private double k;
    private int tasks;
    private int zeroTasks;
    /** sum_i w_i delta_i^2 (sqrt(rows) + sqrt(cols))^2: the largest eigenvalue rounding noise alone gives C. */
    private double noiseFloor;

    public ExactMinimiser(int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("weight shape must be positive, got [" + rows + ", " + cols + "]");
        }
        int g = Math.min(rows, cols);
        if ((long) rows * cols > Integer.MAX_VALUE || (long) cols * cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("weight [" + rows + ", " + cols + "] is too large for the exact solver");
        }
        this.rows = rows;
        this.cols = cols;
        this.c = zeros((long) cols * cols);
        this.d = zeros((long) rows * cols);
        this.tau = new DoublePointer((long) rows * cols);
        this.gram = new DoublePointer((long) g * g);
        this.tau0 = new float[rows * cols];
    }

    private static DoublePointer zeros(long n) {
        DoublePointer p = new DoublePointer(n);
        p.zero();
        return p;
    }

    /** An eigenvalue at or below this is zero to double precision: n * 2^-52 * lambda_max (class comment). */
    public static double zeroThreshold(int n, double lambdaMax) {
        return Math.max(lambdaMax, 0) * n * 0x1p-52;
    }

    /**
     * The numerical zero of this problem: the larger of double's ({@link #zeroThreshold}) and what the rounding of
     * the inputs can create. A task vector known to within delta per element (its inputs' rounding: u |W_i| + u |W_0|
     * for W_i - W_0 from checkpoints of unit roundoff u) can differ from the true one by a matrix E whose largest
     * singular value is about delta (sqrt(rows) + sqrt(cols)) (the edge of a random matrix's spectrum), so C can gain
     * eigenvalues up to sum_i w_i delta_i^2 (sqrt(rows) + sqrt(cols))^2 from rounding alone, and by Weyl's inequality
     * every eigenvalue moves by as much. Twice that, and a factor 2 for the edge estimate: an eigenvalue above
     * 4 x the floor is known to better than half its size, so dividing by it fits the data, not the rounding.
     */
    double zeroThreshold(double lambdaMax) {
        return Math.max(zeroThreshold(cols, lambdaMax), 4 * noiseFloor);
    }

    /**
     * Folds in tau_i (row-major [rows, cols], float32): C += w tau^T tau, D += w tau tau^T tau, K += w ||tau tau^T||^2
     * in double, w = 1 / ||tau||^2; tau0 += tau in float32, as every solver starts from. A zero task vector gets
     * weight 0.
     */
    public void add(float[] taskVector) {
        add(taskVector, Double.NaN);
    }

    /**
     * As {@link #add(float[])} with the size of the rounding its inputs carry per element ({@code elementNoise};
     * NaN: only the float32 rounding of the task vector itself, 2^-24 times its RMS).
     */
    public void add(float[] taskVector, double elementNoise) {
        checkOpen();
        if (taskVector.length != rows * cols) {
            throw new IllegalArgumentException("task vector has " + taskVector.length + " values, the weight ["
                    + rows + ", " + cols + "] needs " + ((long) rows * cols));
        }
        DoubleBuffer t = tau.asBuffer();
        double norm2 = 0;
        for (int i = 0; i < taskVector.length; i++) {
            double x = taskVector[i];
            t.put(i, x);
            norm2 += x * x;
            tau0[i] += taskVector[i];
        }
        if (!Double.isFinite(norm2)) {
            throw new IllegalArgumentException("task vector " + (tasks + 1) + " holds NaN or infinite values");
        }
        tasks++;
        if (norm2 == 0) {
            zeroTasks++;
            return;
        }
        cMirrored = false;
        double w = 1 / norm2;
        double delta = Double.isNaN(elementNoise) ? 0x1p-24 * Math.sqrt(norm2 / taskVector.length) : elementNoise;
        double edge = Math.sqrt(rows) + Math.sqrt(cols);
        noiseFloor += w * delta * delta * edge * edge;
        if (rows >= cols) {
            // G = tau^T tau [cols, cols]: C += w G, D += w tau G
            openblas.cblas_dsyrk(openblas.CblasRowMajor, openblas.CblasUpper, openblas.CblasTrans, cols, rows, 1.0,
                    tau, cols, 0.0, gram, cols);
            mirror(gram, cols);
            DoubleBuffer gb = gram.asBuffer();
            DoubleBuffer cb = c.asBuffer();
            for (int i = 0; i < cols * cols; i++) {
                cb.put(i, cb.get(i) + w * gb.get(i));
            }
            openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, rows, cols, cols,
                    w, tau, cols, gram, cols, 1.0, d, cols);
        } else {
            // C += w tau^T tau (upper); H = tau tau^T [rows, rows]; D += w H tau
            openblas.cblas_dsyrk(openblas.CblasRowMajor, openblas.CblasUpper, openblas.CblasTrans, cols, rows, w,
                    tau, cols, 1.0, c, cols);
            openblas.cblas_dsyrk(openblas.CblasRowMajor, openblas.CblasUpper, openblas.CblasNoTrans, rows, cols, 1.0,
                    tau, cols, 0.0, gram, rows);
            mirror(gram, rows);
            openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, rows, cols, rows,
                    w, gram, rows, tau, cols, 1.0, d, cols);
        }
        DoubleBuffer gb = gram.asBuffer();
        double gg = 0;
        int g = Math.min(rows, cols);
        for (int i = 0; i < g * g; i++) {
            gg += gb.get(i) * gb.get(i);
        }
        k += w * gg;                                    // ||tau tau^T||^2 = ||tau^T tau||^2: the smaller Gram
    }

    public int taskCount() {
        return tasks;
    }

    public int zeroTaskCount() {
        return zeroTasks;
    }

    /** What a solve produced: tau_m (float32), the losses at tau0 and at tau_m, the rank used, and the time. */
    public record Solution(float[] tau, double lossBefore, double lossAfter, int rankUsed, double eigenSeconds) {
    }

    /**
     * tau_m = D C^+ (eigenvalues above {@link #zeroThreshold} only), or D (C + ridge I)^-1 for ridge &gt; 0, in
     * double, rounded to float32 once at the end. The accumulated C is consumed: call once.
     */
    public Solution solve(double ridge) {
        if (!(ridge >= 0) || Double.isInfinite(ridge)) {
            throw new IllegalArgumentException("ridge must be >= 0, got " + ridge);
        }
        return solve(new SpectralFilter(SpectralFilter.Kind.EXACT, ridge, 0));
    }

    /**
     * Whether a solver needs C and D in double: the exact solver without a ridge (it divides by C's smallest
     * eigenvalues), and a flow, Tikhonov or Landweber filter whose given parameter puts its knee (1 / 2t, rho,
     * lambda_max / k) within 16x of the largest numerical zero a float32 C can have (cols 2^-23 lambda_max, with
     * lambda_max &lt;= trace(C) = the number of task vectors): such a filter passes, as 1 / lambda, eigenvalues that
     * float32 does not resolve, as the exact solver does. The data-free default places its knee at a tenth of the mean
     * eigenvalue, far above; it stays in float32.
     */
    public static boolean needsDouble(SolverSpec spec, int cols, int tasks) {
        if (spec instanceof SolverSpec.Exact e) {
            return e.ridge() == 0;
        }
        if (spec instanceof SolverSpec.Adam) {
            return false;
        }
        SpectralFilter f = SpectralSolver.filterOf(spec);
        if (Double.isNaN(f.param()) || tasks <= 0) {
            return false;
        }
        double knee;
        switch (f.kind()) {
            case EXPONENTIAL:
                knee = 1 / (2 * f.param());
                break;
            case TIKHONOV:
                knee = f.param();
                break;
            case LANDWEBER:
                knee = tasks / Math.max(1, f.param());
                break;
            default:
                return false;
        }
        return knee < 16 * cols * 0x1p-23 * tasks;
    }

    /**
     * The filter's solution (specification 2.3) in double: tau = keep * tau0 - tau0 V diag(a) V^T + D V diag(b) V^T over the
     * eigenpairs above {@link #zeroThreshold} (all of those with lambda + rho &gt; 0 for the exact filter with a ridge),
     * rounded to float32 once at the end. The accumulated C is consumed: call once.
     */
    public Solution solve(SpectralFilter filter) {
        checkOpen();
        double before = loss(tau0);
        boolean keep = filter.kind() != SpectralFilter.Kind.EXACT;
        if (tasks == zeroTasks) {
            // C = 0, D = 0: every task vector is zero, and so is the solution
            return new Solution(keep ? tau0.clone() : new float[rows * cols], before, before, 0, 0);
        }
        mirrorC();
        consumed = true;
        gram.close();                                   // the add() scratch is not needed any more
        gram = null;
        double ridge = filter.kind() == SpectralFilter.Kind.EXACT ? filter.param() : 0;
        // C = V diag(lambda) V^T in place, only the eigenvectors of the eigenvalues used (the leading ones: above the
        // numerical zero, or all with lambda + rho > 0 with a ridge); C's storage holds reflectors afterwards
        SpectralFilter.Coefficients[] chosen = new SpectralFilter.Coefficients[1];
        try (SelectedEigenpairs e = SelectedEigenpairs.decomposeDouble(c, cols, values -> {
            double tol = ridge > 0 ? -ridge : zeroThreshold(values[0]);
            chosen[0] = filter.coefficients(values, cols, tol);
            return chosen[0].used();
        })) {
            SpectralFilter.Coefficients co = chosen[0];
            int used = e.k();
            double[] lambda = e.values();
            if (used == 0) {
                return new Solution(keep ? tau0.clone() : new float[rows * cols], before, keep ? before : Math.max(0, k),
                        0, e.seconds());
            }
            DoublePointer vt = e.vectorsTDouble();      // V_r^T [r, cols]
            // B = D V_r [rows, r], into the add() scratch (free now)
            DoublePointer b = tau;
            openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasTrans, rows, used, cols,
                    1.0, d, cols, vt, cols, 0.0, b, used);
            DoubleBuffer bb = b.asBuffer();
            DoubleBuffer db = d.asBuffer();
            double after;
            if (!keep) {
                // M = B diag(b): tau v_j = M_j (0 off V_r), so L = sum_j (lambda_j s_j^2 - 2 s_j) ||(D V)_j||^2 + K
                double[] dd = new double[used];
                for (int i = 0; i < rows; i++) {
                    int row = i * used;
                    for (int j = 0; j < used; j++) {
                        double x = bb.get(row + j);
                        dd[j] += x * x;
                        bb.put(row + j, x * co.b()[j]);
                    }
                }
                after = k;
                for (int j = 0; j < used; j++) {
                    double sj = co.b()[j];
                    after += (lambda[j] * sj * sj - 2 * sj) * dd[j];
                }
                // tau_m = M V_r^T, into d (no longer needed)
                openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, rows, cols,
                        used, 1.0, b, used, vt, cols, 0.0, d, cols);
            } else {
                // D is no longer needed: tau0 widened into it, A = tau0 V_r, M = B diag(b) - A diag(a) over B, and
                // L(tau) - L(tau0) = sum_j sum_i lambda_j (2 A_ij M_ij + M_ij^2) - 2 M_ij B_ij (SpectralSolver)
                for (int i = 0; i < tau0.length; i++) {
                    db.put(i, tau0[i]);
                }
                after = before;
                try (DoublePointer a = new DoublePointer((long) rows * used)) {
                    openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasTrans, rows, used,
                            cols, 1.0, d, cols, vt, cols, 0.0, a, used);
                    DoubleBuffer ab = a.asBuffer();
                    for (int i = 0; i < rows; i++) {
                        int row = i * used;
                        for (int j = 0; j < used; j++) {
                            double bij = bb.get(row + j);
                            double aij = ab.get(row + j);
                            double mij = co.b()[j] * bij - co.a()[j] * aij;
                            bb.put(row + j, mij);
                            after += lambda[j] * (2 * aij * mij + mij * mij) - 2 * mij * bij;
                        }
                    }
                }
                // tau = tau0 + M V_r^T, onto the widened tau0 in d
                openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, rows, cols,
                        used, 1.0, b, used, vt, cols, 1.0, d, cols);
            }
            float[] out = new float[rows * cols];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) db.get(i);
            }
            return new Solution(out, before, Math.max(0, after), used, e.seconds());
        }
    }

    /**
     * L(tau) = &lt;tau C, tau&gt; - 2 &lt;tau, D&gt; + K in double, with the accumulated C and D (before
     * {@link #solve}, which consumes them).
     */
    public double loss(float[] t) {
        checkOpen();
        mirrorC();
        DoubleBuffer x = tau.asBuffer();
        for (int i = 0; i < t.length; i++) {
            x.put(i, t[i]);
        }
        try (DoublePointer p = new DoublePointer((long) rows * cols)) {
            openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, rows, cols,
                    cols, 1.0, tau, cols, c, cols, 0.0, p, cols);
            DoubleBuffer pb = p.asBuffer();
            DoubleBuffer db = d.asBuffer();
            double acc = 0;
            for (int i = 0; i < t.length; i++) {
                acc += (pb.get(i) - 2 * db.get(i)) * t[i];
            }
            return Math.max(0, acc + k);
        }
    }

    /** Makes C whole once after the last task vector: loss() and solve() both read it (a pass over cols^2). */
    private void mirrorC() {
        if (!cMirrored) {
            mirror(c, cols);
            cMirrored = true;
        }
    }

    /** Copies the upper triangle of the row-major [n, n] a onto its lower one (dsyrk writes one triangle). */
    private static void mirror(DoublePointer a, int n) {
        DoubleBuffer b = a.asBuffer();
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                b.put(j * n + i, b.get(i * n + j));
            }
        }
    }

    private void checkOpen() {
        if (c == null) {
            throw new IllegalStateException("ExactMinimiser used after close()");
        }
        if (consumed) {
            throw new IllegalStateException("ExactMinimiser used after solve(), which decomposes C in place");
        }
    }

    @Override
    public void close() {
        if (c != null) {
            c.close();
            d.close();
            tau.close();
            if (gram != null) {
                gram.close();
            }
            c = null;
        }
    }
}
