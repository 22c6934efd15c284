package dev.wudi.method;

import java.io.IOException;

/**
 * Spherical linear interpolation between the base and one model (Shoemake, 1985; mergekit's slerp): with
 * dot = cos theta of the two tensors as whole vectors (each normalised where its norm exceeds 1e-8),
 * W = sin((1 - t) theta) / sin theta * W_0 + sin(t theta) / sin theta * W_1 on the unnormalised tensors, or the linear
 * (1 - t) W_0 + t W_1 where |dot| > 0.9995 (nearly collinear). t = 0 gives the base, t = 1 the model; t is a
 * parameter of the tensor (a config's gradient or filter). Two passes: the norms and the dot product (in double),
 * then the output.
 */
public final class Slerp implements TensorRule {

    /** |cos theta| above which the tensors are treated as collinear and interpolated linearly (mergekit's). */
    static final double COLLINEAR = 0.9995;

    private final Double defaultT;

    /** @param defaultT t where the tensor has none (--t), or null: then a tensor without t is an error */
    public Slerp(Double defaultT) {
        this.defaultT = defaultT;
    }

    @Override
    public String label() {
        return "slerp";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        if (job.taskCount() != 1) {
            throw new IllegalArgumentException("tensor " + job.name() + ": slerp interpolates the base and one model,"
                    + " got " + job.taskCount() + " models");
        }
        Double tv = job.params().global("t");
        if (tv == null) {
            tv = defaultT;
        }
        if (tv == null) {
            throw new IllegalArgumentException("tensor " + job.name() + ": slerp needs t (--t, or t in a config's"
                    + " parameters)");
        }
        double t = tv;
        double[] s = new double[3];                           // ||W_0||^2, ||W_1||^2, <W_0, W_1>
        Chunks.forEach(job, (first, count, base, models, out) -> {
            for (int j = 0; j < count; j++) {
                double a = base[j];
                double b = models[0][j];
                s[0] += a * a;
                s[1] += b * b;
                s[2] += a * b;
            }
        });
        double n0 = Math.sqrt(s[0]);
        double n1 = Math.sqrt(s[1]);
        double dot = s[2] / ((n0 > 1e-8 ? n0 : 1) * (n1 > 1e-8 ? n1 : 1));
        float c0;
        float c1;
        if (Math.abs(dot) > COLLINEAR) {
            c0 = (float) (1 - t);
            c1 = (float) t;
        } else {
            double theta = Math.acos(dot);
            double sin = Math.sin(theta);
            c0 = (float) (Math.sin((1 - t) * theta) / sin);
            c1 = (float) (Math.sin(t * theta) / sin);
        }
        Chunks.forEach(job, (first, count, base, models, out) -> {
            for (int j = 0; j < count; j++) {
                out[j] = c0 * base[j] + c1 * models[0][j];
            }
            sink.writeFloats(out, 0, count);
        });
        return TensorOutcome.NONE;
    }
}
