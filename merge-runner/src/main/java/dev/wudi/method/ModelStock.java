package dev.wudi.method;

import java.io.IOException;

/**
 * Model Stock (Jang et al., ECCV 2024, arXiv:2403.19522; mergekit's model_stock): with the task vectors
 * o_i = W_i - W_0 of N >= 2 models, cos = the mean over pairs i &lt; j of &lt;o_i, o_j&gt; / max(||o_i|| ||o_j||, 1e-6)
 * (clamped to [-1, 1]), t = N cos / (1 + (N - 1) cos), and W = t mean_i(W_i) + (1 - t) W_0. One angle for the whole
 * tensor, or with filter_wise one per row (the last dimension as the vector; a 1-D tensor is one row). Two passes:
 * the Gram matrix of the task vectors (in double), then the output.
 */
public final class ModelStock implements TensorRule {

    @Override
    public String label() {
        return "model-stock";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        int n = job.taskCount();
        if (n < 2) {
            throw new IllegalArgumentException("tensor " + job.name() + ": model_stock needs at least 2 models besides"
                    + " the base, got " + n);
        }
        boolean rows = job.params().global("filter_wise", 0) != 0 && job.info().rank() >= 2;
        long numel = job.numel();
        int row = rows ? Math.toIntExact(numel / job.info().shape()[0]) : 0;
        int groups = rows ? Math.toIntExact(job.info().shape()[0]) : 1;
        double[][] gram = new double[groups][n * n];         // <o_i, o_j> per row (or for the whole tensor)
        Chunks.forEach(job, (first, count, base, models, out) -> {
            for (int j = 0; j < count; j++) {
                double[] g = gram[rows ? (int) ((first + j) / row) : 0];
                for (int a = 0; a < n; a++) {
                    double oa = models[a][j] - base[j];
                    for (int b = a; b < n; b++) {
                        g[a * n + b] += oa * (models[b][j] - base[j]);
                    }
                }
            }
        });
        float[] t = new float[groups];
        for (int k = 0; k < groups; k++) {
            double[] g = gram[k];
            double sum = 0;
            int pairs = 0;
            for (int a = 0; a < n; a++) {
                for (int b = a + 1; b < n; b++) {
                    double c = g[a * n + b] / Math.max(Math.sqrt(g[a * n + a]) * Math.sqrt(g[b * n + b]), 1e-6);
                    sum += Math.max(-1, Math.min(1, c));
                    pairs++;
                }
            }
            double cos = sum / pairs;
            t[k] = (float) (n * cos / (1 + (n - 1) * cos));  // the interpolation ratio of the paper's eq. (2)
        }
        Chunks.forEach(job, (first, count, base, models, out) -> {
            for (int j = 0; j < count; j++) {
                float mean = 0f;
                for (int a = 0; a < n; a++) {
                    mean += models[a][j];
                }
                mean /= n;
                float tk = t[rows ? (int) ((first + j) / row) : 0];
                out[j] = tk * mean + (1 - tk) * base[j];
            }
            sink.writeFloats(out, 0, count);
        });
        return TensorOutcome.NONE;
    }
}
