package dev.wudi.solver;

import dev.wudi.linalg.Blas;
import dev.wudi.linalg.NativeFloats;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The interference loss of WUDI-Merging exactly as the paper writes it, keeping all n task vectors:
 *
 * <pre>
 *   L(tau_m)      = sum_i w_i ||(tau_m - tau_i) tau_i^T||_F^2 ,   w_i = 1 / ||tau_i||_F^2
 *   grad L(tau_m) = 2 sum_i w_i (tau_m - tau_i) tau_i^T tau_i
 * </pre>
 *
 * The gradient is formed the way autograd forms it for that loss: per task E_i = (tau_m - tau_i) tau_i^T
 * ([rows, rows]) and then E_i tau_i, i.e. 2n matrix products per evaluation. This is the test oracle of
 * {@link GramForm} and the peer of the benchmark; it is not meant to be fast.
 *
 * A task vector that is exactly zero gets weight 0 (the rule of {@link GramForm}), not 1/0.
 */
public final class InterferenceLoss implements AutoCloseable {

    private final int rows;
    private final int cols;
    private final List<NativeFloats> taus = new ArrayList<>();
    private final float[] weights;
    private final NativeFloats tauM;
    private final NativeFloats diff;
    private final NativeFloats e;
    private final NativeFloats grad;

    /** Copies the task vectors (row-major [rows, cols]). */
    public InterferenceLoss(int rows, int cols, List<float[]> taskVectors) {
        this.rows = rows;
        this.cols = cols;
        int n = rows * cols;
        this.weights = new float[taskVectors.size()];
        for (float[] t : taskVectors) {
            if (t.length != n) {
                throw new IllegalArgumentException("task vector has " + t.length + " values, [" + rows + ", "
                        + cols + "] needs " + n);
            }
            double norm2 = 0.0;
            for (float x : t) {
                norm2 += (double) x * x;
            }
            weights[taus.size()] = norm2 == 0.0 ? 0.0f : (float) (1.0 / norm2);   // w_i = 1 / ||tau_i||_F^2
            taus.add(NativeFloats.of(t));
        }
        this.tauM = new NativeFloats(n);
        this.diff = new NativeFloats(n);
        this.e = new NativeFloats(rows * rows);
        this.grad = new NativeFloats(n);
    }

    public int taskCount() {
        return taus.size();
    }

    /** L(tau_m). */
    public double loss(float[] tauMValues) {
        tauM.copyFrom(tauMValues);
        return evaluate(tauM, null);
    }

    /** grad L(tau_m) into gradOut; returns L(tau_m). */
    public double lossAndGradient(float[] tauMValues, float[] gradOut) {
        tauM.copyFrom(tauMValues);
        double l = evaluate(tauM, grad);
        grad.buffer().get(0, gradOut, 0, gradOut.length);
        return l;
    }

    /**
     * L(tau_m) and, when gradOut is not null, grad L(tau_m) into it (same length as tau_m). Works on
     * native arrays so that LiteralWudi runs without copies.
     */
    double evaluate(NativeFloats tauMNative, NativeFloats gradOut) {
        int n = rows * cols;
        FloatBuffer t = tauMNative.buffer();
        if (gradOut != null) {
            gradOut.fill(0.0f);
        }
        double loss = 0.0;
        for (int i = 0; i < taus.size(); i++) {
            float w = weights[i];
            if (w == 0.0f) {
                continue;
            }
            NativeFloats tauI = taus.get(i);
            FloatBuffer ti = tauI.buffer();
            FloatBuffer dv = diff.buffer();
            for (int j = 0; j < n; j++) {
                dv.put(j, t.get(j) - ti.get(j));               // tau_m - tau_i
            }
            Blas.sgemm(false, true, rows, rows, cols, 1.0f, diff, tauI, 0.0f, e);   // E_i = (tau_m - tau_i) tau_i^T
            loss += w * e.squaredNorm();                                              // w_i ||E_i||_F^2
            if (gradOut != null) {
                Blas.sgemm(false, false, rows, cols, rows, 2.0f * w, e, tauI, 1.0f, gradOut); // += 2 w_i E_i tau_i
            }
        }
        return loss;
    }


    @Override
    public void close() {
        for (NativeFloats t : taus) {
            t.close();
        }
        tauM.close();
        diff.close();
        e.close();
        grad.close();
    }
}
