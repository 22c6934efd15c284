package dev.wudi.solver;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Seeded random task vectors and double-precision references of the literal loss and gradient. */
public final class TestTensors {

    private TestTensors() {
    }

    /** n task vectors [rows, cols] with entries N(0, scale^2), plus a shared component so tasks overlap. */
    public static List<float[]> taskVectors(long seed, int n, int rows, int cols, float scale) {
        Random r = new Random(seed);
        float[] shared = gaussian(r, rows * cols, scale * 0.5f);
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] t = gaussian(r, rows * cols, scale);
            for (int j = 0; j < t.length; j++) {
                t[j] += shared[j];
            }
            out.add(t);
        }
        return out;
    }

    public static float[] gaussian(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
        }
        return x;
    }

    /** sum_i tau_i in float32, in order (Adam's starting point). */
    public static float[] sum(List<float[]> taus) {
        float[] s = new float[taus.get(0).length];
        for (float[] t : taus) {
            for (int j = 0; j < s.length; j++) {
                s[j] += t[j];
            }
        }
        return s;
    }

    private static double weight(float[] t) {
        double n2 = 0.0;
        for (float x : t) {
            n2 += (double) x * x;
        }
        return n2 == 0.0 ? 0.0 : 1.0 / n2;
    }

    /** (tau_m - tau_i) tau_i^T in double, [rows, rows]. */
    private static double[] interference(float[] tauM, float[] tauI, int rows, int cols) {
        double[] e = new double[rows * rows];
        for (int a = 0; a < rows; a++) {
            for (int b = 0; b < rows; b++) {
                double acc = 0.0;
                for (int k = 0; k < cols; k++) {
                    acc += ((double) tauM[a * cols + k] - tauI[a * cols + k]) * tauI[b * cols + k];
                }
                e[a * rows + b] = acc;
            }
        }
        return e;
    }

    /** L = sum_i w_i ||(tau_m - tau_i) tau_i^T||_F^2 in double. */
    public static double literalLoss(float[] tauM, List<float[]> taus, int rows, int cols) {
        double l = 0.0;
        for (float[] t : taus) {
            double w = weight(t);
            if (w == 0.0) {
                continue;
            }
            for (double x : interference(tauM, t, rows, cols)) {
                l += w * x * x;
            }
        }
        return l;
    }

    /** grad L = 2 sum_i w_i (tau_m - tau_i) tau_i^T tau_i in double. */
    public static double[] literalGradient(float[] tauM, List<float[]> taus, int rows, int cols) {
        double[] g = new double[rows * cols];
        for (float[] t : taus) {
            double w = weight(t);
            if (w == 0.0) {
                continue;
            }
            double[] e = interference(tauM, t, rows, cols);
            for (int a = 0; a < rows; a++) {
                for (int b = 0; b < rows; b++) {
                    double eab = 2.0 * w * e[a * rows + b];
                    for (int k = 0; k < cols; k++) {
                        g[a * cols + k] += eab * t[b * cols + k];
                    }
                }
            }
        }
        return g;
    }

    /** ||x - ref||_F / ||ref||_F. */
    public static double relativeError(float[] x, double[] ref) {
        double num = 0.0;
        double den = 0.0;
        for (int i = 0; i < ref.length; i++) {
            double d = x[i] - ref[i];
            num += d * d;
            den += ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }

    public static double relativeError(float[] x, float[] ref) {
        double[] r = new double[ref.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = ref[i];
        }
        return relativeError(x, r);
    }
}
