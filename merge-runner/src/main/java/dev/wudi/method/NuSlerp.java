package dev.wudi.method;

import java.io.IOException;

/**
 * mergekit's nuslerp: spherical interpolation of two models' task vectors tau_0, tau_1 at t = w_1 / (w_0 + w_1)
 * (0.5 where the weights sum to under 1e-6), added to the base: with u = v / max(||v||, 1e-7) and
 * theta = acos(clamp(&lt;u_0, u_1&gt;, -1, 1)), the result is (sin((1 - t) theta) tau_0 + sin(t theta) tau_1) / sin theta,
 * or (1 - t) tau_0 + t tau_1 where |sin theta| &lt; 1e-8; without a base model, the same of the two models' weights. The vectors are the whole tensors (nuslerp_flatten, the
 * default), else the rows of the last dimension, or with nuslerp_row_wise the columns (dim 0). Two passes: the norms
 * and dot products per vector (in double), then the output.
 */
public final class NuSlerp implements TensorRule {

    /** The global parameter a config without base_model sets: interpolate the models, not their task vectors. */
    public static final String WITHOUT_BASE = "nuslerp_without_base";

    @Override
    public String label() {
        return "nuslerp";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        if (job.taskCount() != 2) {
            throw new IllegalArgumentException("tensor " + job.name() + ": nuslerp interpolates two models (besides the"
                    + " base), got " + job.taskCount());
        }
        // without a base model (a config's nuslerp with no base_model) the two models themselves are interpolated
        boolean relative = job.params().global(WITHOUT_BASE, 0) == 0;
        double w0 = job.modelParam(0, "weight", 1.0);
        double w1 = job.modelParam(1, "weight", 1.0);
        double t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
        boolean flatten = job.params().global("nuslerp_flatten", 1) != 0 || job.info().rank() < 2;
        boolean rowWise = job.params().global("nuslerp_row_wise", 0) != 0;
        long numel = job.numel();
        int cols = Math.toIntExact(numel / Math.max(1, job.info().shape().length == 0 ? 1 : job.info().shape()[0]));
        int rows = Math.toIntExact(numel / Math.max(1, cols));
        int groups = flatten ? 1 : rowWise ? cols : rows;
        double[][] s = new double[groups][3];                 // ||tau_0||^2, ||tau_1||^2, <tau_0, tau_1> per vector
        Chunks.forEach(job, (first, count, base, models, out) -> {
            for (int j = 0; j < count; j++) {
                long e = first + j;
                double[] g = s[flatten ? 0 : rowWise ? (int) (e % cols) : (int) (e / cols)];
                double a = relative ? models[0][j] - base[j] : models[0][j];
                double b = relative ? models[1][j] - base[j] : models[1][j];
                g[0] += a * a;
                g[1] += b * b;
                g[2] += a * b;
            }
        });
        float[] c0 = new float[groups];
        float[] c1 = new float[groups];
        for (int k = 0; k < groups; k++) {
            double cos = s[k][2] / (Math.max(Math.sqrt(s[k][0]), 1e-7) * Math.max(Math.sqrt(s[k][1]), 1e-7));
            double theta = Math.acos(Math.max(-1, Math.min(1, cos)));
            double sin = Math.sin(theta);
            if (Math.abs(sin) < 1e-8) {
                c0[k] = (float) (1 - t);
                c1[k] = (float) t;
            } else {
                c0[k] = (float) (Math.sin((1 - t) * theta) / sin);
                c1[k] = (float) (Math.sin(t * theta) / sin);
            }
        }
        Chunks.forEach(job, (first, count, base, models, out) -> {
            for (int j = 0; j < count; j++) {
                long e = first + j;
                int k = flatten ? 0 : rowWise ? (int) (e % cols) : (int) (e / cols);
                out[j] = relative ? base[j] + c0[k] * (models[0][j] - base[j]) + c1[k] * (models[1][j] - base[j])
                        : c0[k] * models[0][j] + c1[k] * models[1][j];
            }
            sink.writeFloats(out, 0, count);
        });
        return TensorOutcome.NONE;
    }
}
