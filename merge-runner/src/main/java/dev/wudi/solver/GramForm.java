package dev.wudi.solver;

import dev.wudi.linalg.Blas;
import dev.wudi.linalg.NativeFloats;
import java.nio.FloatBuffer;

/**
 * The Gram form of the interference loss of one [rows, cols] weight (specification 2.2), folded in one task
 * vector at a time so that memory does not grow with the number of tasks:
 *
 * <pre>
 *   w_i   = 1 / ||tau_i||_F^2
 *   C     = sum_i w_i tau_i^T tau_i                 [cols, cols]
 *   D     = sum_i w_i tau_i tau_i^T tau_i           [rows, cols]
 *   K     = sum_i w_i ||tau_i tau_i^T||_F^2
 *   tau_0 = sum_i tau_i                              (float32, in the order added: Adam's start)
 *   L(tau_m) = &lt;tau_m C, tau_m&gt; - 2 &lt;tau_m, D&gt; + K  =  sum_i w_i ||(tau_m - tau_i) tau_i^T||_F^2
 * </pre>
 *
 * A task vector that is exactly zero would make w_i infinite (the official code then yields NaN). Here
 * it gets weight 0: it adds nothing to C, D or K (its term ||(tau_m - 0) 0^T||^2 is 0 for every tau_m
 * anyway), it is still added to the sum (which it does not change), and {@link #zeroTaskCount()} reports
 * it. A task vector holding NaN or infinity, or one so small that 1/||tau_i||^2 overflows float32, is
 * rejected before it changes anything.
 */
public final class GramForm implements AutoCloseable {

    private final int rows;
    private final int cols;
    private NativeFloats c;              // SYRK updates only the upper triangle: mirrored before it is read
    private final NativeFloats d;
    private final NativeFloats sum;
    private NativeFloats tau;            // scratch: the task vector being added
    private NativeFloats gram;           // scratch: the smaller Gram matrix of tau_i, [g, g]
    private final int gramSize;
    private double k;
    private int tasks;
    private int zeroTasks;
    private boolean mirrored;

    public GramForm(int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("weight shape must be positive, got [" + rows + ", " + cols + "]");
        }
        if ((long) rows * cols > Integer.MAX_VALUE || (long) cols * cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("weight [" + rows + ", " + cols + "] is too large for one array");
        }
        this.rows = rows;
        this.cols = cols;
        this.gramSize = Math.min(rows, cols);
        this.c = new NativeFloats(cols * cols);
        this.d = new NativeFloats(rows * cols);
        this.sum = new NativeFloats(rows * cols);
        this.tau = new NativeFloats(rows * cols);
        this.gram = new NativeFloats(gramSize * gramSize);
    }

    /** Folds in task vector tau_i, row-major [rows, cols]. The array is only read. */
    public void add(float[] taskVector) {
        if (tau == null || c == null) {
            throw new IllegalStateException("task vector added after the Gram form was handed to a solver");
        }
        if (taskVector.length != rows * cols) {
            throw new IllegalArgumentException("task vector has " + taskVector.length + " values, the weight ["
                    + rows + ", " + cols + "] needs " + ((long) rows * cols));
        }
        double norm2 = 0.0;
        for (float x : taskVector) {
            norm2 += (double) x * x;
        }
        if (!Double.isFinite(norm2)) {
            throw new IllegalArgumentException("task vector " + (tasks + 1) + " holds NaN or infinite values");
        }
        if (norm2 != 0.0 && !Float.isFinite((float) (1.0 / norm2))) {
            throw new IllegalArgumentException("task vector " + (tasks + 1) + " has squared norm " + norm2
                    + ": its weight 1/||tau||^2 does not fit in float32");
        }
        FloatBuffer s = sum.buffer();
        for (int i = 0; i < taskVector.length; i++) {
            s.put(i, s.get(i) + taskVector[i]);         // tau_0 = sum_i tau_i in float32, task order
        }
        tasks++;
        if (norm2 == 0.0) {
            zeroTasks++;                                // w_i would be 1/0: weight 0 instead (class comment)
            return;
        }
        float w = (float) (1.0 / norm2);                // w_i = 1 / ||tau_i||_F^2
        tau.copyFrom(taskVector);
        mirrored = false;
        if (rows >= cols) {
            // G = tau_i^T tau_i [cols, cols]; C += w_i G; D += w_i tau_i G   (2 rows cols^2 flops)
            Blas.ssyrkUpper(true, cols, rows, 1.0f, tau, 0.0f, gram);
            Blas.mirrorUpper(gram, cols);
            addScaled(c, w, gram);
            Blas.sgemm(false, false, rows, cols, cols, w, tau, gram, 1.0f, d);
        } else {
            // C += w_i tau_i^T tau_i; H = tau_i tau_i^T [rows, rows]; D += w_i H tau_i   (2 rows^2 cols flops)
            Blas.ssyrkUpper(true, cols, rows, w, tau, 1.0f, c);
            Blas.ssyrkUpper(false, rows, cols, 1.0f, tau, 0.0f, gram);
            Blas.mirrorUpper(gram, rows);
            Blas.sgemm(false, false, rows, cols, rows, w, gram, tau, 1.0f, d);
        }
        // K += w_i ||tau_i tau_i^T||_F^2 = w_i ||tau_i^T tau_i||_F^2 (same nonzero eigenvalues): the smaller Gram
        k += (double) w * gram.squaredNorm();
    }

    /** y += a x, element-wise (both triangles of C; the mirror before reading keeps them equal). */
    private static void addScaled(NativeFloats y, float a, NativeFloats x) {
        FloatBuffer yb = y.buffer();
        FloatBuffer xb = x.buffer();
        for (int i = 0, n = y.length(); i < n; i++) {
            yb.put(i, yb.get(i) + a * xb.get(i));
        }
    }


    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** Task vectors added, zero ones included. */
    public int taskCount() {
        return tasks;
    }

    /** Task vectors that were exactly zero (weight 0 in C, D and K). */
    public int zeroTaskCount() {
        return zeroTasks;
    }

    /** C = sum_i w_i tau_i^T tau_i, [cols, cols], both triangles filled. Do not modify. */
    public NativeFloats c() {
        if (c == null) {
            throw new IllegalStateException("C was handed to a solver that decomposed it in place (takeC)");
        }
        if (!mirrored) {
            Blas.mirrorUpper(c, cols);
            mirrored = true;
        }
        return c;
    }

    /** D = sum_i w_i tau_i tau_i^T tau_i, [rows, cols]. Do not modify. */
    public NativeFloats d() {
        return d;
    }

    /** K = sum_i w_i ||tau_i tau_i^T||_F^2. */
    public double k() {
        return k;
    }

    /** tau_0 = sum_i tau_i in float32, [rows, cols]. Do not modify. */
    public NativeFloats sum() {
        return sum;
    }

    /**
     * L(tau_m) = &lt;tau_m C, tau_m&gt; - 2 &lt;tau_m, D&gt; + K, with P = tau_m C already computed
     * ([rows, cols]); dot products accumulated in double.
     */
    public double loss(NativeFloats tauM, NativeFloats p) {
        FloatBuffer t = tauM.buffer();
        FloatBuffer pb = p.buffer();
        FloatBuffer db = d.buffer();
        double acc = 0.0;
        for (int i = 0, n = rows * cols; i < n; i++) {
            acc += ((double) pb.get(i) - 2.0 * db.get(i)) * t.get(i);
        }
        return acc + k;
    }

    /** L(tau_m) for a heap array, with its own GEMM (tests and one-off evaluations). */
    public double loss(float[] tauM) {
        try (NativeFloats t = NativeFloats.of(tauM)) {
            return loss(t);
        }
    }

    /** L(tau_m) with its own GEMM into a scratch P that is freed on return. */
    public double loss(NativeFloats tauM) {
        try (NativeFloats p = new NativeFloats(rows * cols)) {
            Blas.sgemm(false, false, rows, cols, cols, 1.0f, tauM, c(), 0.0f, p);
            return loss(tauM, p);
        }
    }

    /** The gradient 2 (tau_m C - D) for a heap array (tests): one GEMM. */
    public float[] gradient(float[] tauM) {
        try (NativeFloats t = NativeFloats.of(tauM); NativeFloats p = new NativeFloats(rows * cols)) {
            Blas.sgemm(false, false, rows, cols, cols, 1.0f, t, c(), 0.0f, p);
            float[] g = p.toArray();
            FloatBuffer db = d.buffer();
            for (int i = 0; i < g.length; i++) {
                g[i] = 2.0f * (g[i] - db.get(i));       // grad L = 2 (tau_m C - D)
            }
            return g;
        }
    }

    /**
     * Frees the scratch buffers of {@link #add} (a task vector and the smaller Gram matrix: at [4096, 11008], 247 MB)
     * once every task vector is in; adding another afterwards is refused.
     */
    public void releaseScratch() {
        if (tau != null) {
            tau.close();
            gram.close();
            tau = null;
            gram = null;
        }
    }

    /**
     * Hands C (mirrored) to the caller, who may overwrite it (an in-place eigendecomposition) and must close it:
     * {@link #c()} and {@link #loss(float[])} refuse afterwards, D, K and tau_0 stay.
     */
    public NativeFloats takeC() {
        NativeFloats taken = c();
        releaseScratch();
        c = null;
        return taken;
    }

    @Override
    public void close() {
        if (c != null) {
            c.close();
        }
        d.close();
        sum.close();
        releaseScratch();
    }
}
