package dev.wudi.backend.reference;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.cuda.reference.FusedAdamReference;
import dev.wudi.solver.AdamConfig;
import java.util.List;

/**
 * A plain, slow test oracle of the whole WUDI solve (specification 2.1 and 2.2) for small shapes: products in
 * double rounded once to float32 (an exactly rounded GEMM), the Adam step of {@link FusedAdamReference}.
 * Also the literal loss sum_i w_i ||(tau_m - tau_i) tau_i^T||_F^2 that the Gram form must equal.
 */
public final class GramFormReference {

    /** tau_m after the steps, the loss at every step's start (losses[t-1]) and at the end (losses[steps]). */
    public record Solution(float[] tauM, double[] losses) {
        public double lossBefore() {
            return losses[0];
        }

        public double lossAfter() {
            return losses[losses.length - 1];
        }
    }

    private GramFormReference() {
    }

    public static double weight(float[] tau) {
        double s = 0;
        for (float x : tau) {
            s += (double) x * x;
        }
        return s > 0 ? 1.0 / s : 0.0;
    }

    public static Solution solve(int rows, int cols, List<float[]> taus, AdamConfig config) {
        int n = rows * cols;
        double[] cD = new double[cols * cols];
        double[] dD = new double[n];
        double k = 0;
        float[] sum = new float[n];
        for (float[] tau : taus) {
            double w = weight(tau);
            for (int e = 0; e < n; e++) {
                sum[e] += tau[e];
            }
            if (w == 0) {
                continue;
            }
            double[] g = gram(tau, rows, cols);
            double gg = 0;
            for (int e = 0; e < g.length; e++) {
                cD[e] += w * g[e];
                gg += g[e] * g[e];
            }
            k += w * gg;
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < cols; j++) {
                    double acc = 0;
                    for (int q = 0; q < cols; q++) {
                        acc += (double) tau[r * cols + q] * g[q * cols + j];
                    }
                    dD[r * cols + j] += w * acc;
                }
            }
        }
        float[] c = toFloat(cD);
        float[] d = toFloat(dD);
        float[] tauM = sum.clone();
        float[] m = new float[n];
        float[] v = new float[n];
        double[] losses = new double[config.iterations() + 1];
        for (int t = 1; t <= config.iterations(); t++) {
            float[] p = times(tauM, rows, cols, c);
            AdamStepScalars s = AdamStepScalars.forStep(config.lr(), config.beta1(), config.beta2(), config.eps(), t);
            losses[t - 1] = k + FusedAdamReference.step(p, d, m, v, tauM, s);
        }
        float[] p = times(tauM, rows, cols, c);
        double last = 0;
        for (int e = 0; e < n; e++) {
            last += ((double) p[e] - 2.0 * d[e]) * tauM[e];
        }
        losses[config.iterations()] = k + last;
        return new Solution(tauM, losses);
    }

    /** sum_i w_i ||(tau_m - tau_i) tau_i^T||_F^2, the paper's loss as written, in double. */
    public static double literalLoss(float[] tauM, int rows, int cols, List<float[]> taus) {
        double total = 0;
        for (float[] tau : taus) {
            double w = weight(tau);
            double acc = 0;
            for (int a = 0; a < rows; a++) {
                for (int b = 0; b < rows; b++) {
                    double e = 0;
                    for (int q = 0; q < cols; q++) {
                        e += ((double) tauM[a * cols + q] - tau[a * cols + q]) * tau[b * cols + q];
                    }
                    acc += e * e;
                }
            }
            total += w * acc;
        }
        return total;
    }

    /** G = tau^T tau, (cols, cols), in double. */
    static double[] gram(float[] tau, int rows, int cols) {
        double[] g = new double[cols * cols];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) {
                double a = tau[r * cols + i];
                for (int j = 0; j < cols; j++) {
                    g[i * cols + j] += a * tau[r * cols + j];
                }
            }
        }
        return g;
    }

    /** a (rows, cols) times s (cols, cols), accumulated in double, rounded once. */
    static float[] times(float[] a, int rows, int cols, float[] s) {
        float[] out = new float[rows * cols];
        double[] row = new double[cols];
        for (int r = 0; r < rows; r++) {
            java.util.Arrays.fill(row, 0);
            for (int q = 0; q < cols; q++) {
                double x = a[r * cols + q];
                for (int j = 0; j < cols; j++) {
                    row[j] += x * s[q * cols + j];
                }
            }
            for (int j = 0; j < cols; j++) {
                out[r * cols + j] = (float) row[j];
            }
        }
        return out;
    }

    private static float[] toFloat(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }
}
