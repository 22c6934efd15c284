package dev.wudi.method;

import java.io.IOException;

/**
 * TIES-Merging (Yadav et al., NeurIPS 2023): trim each task vector to its top-density fraction of
 * magnitudes, elect a sign per element (sign of the sum of trimmed values), and average only the
 * trimmed values that agree with it (disjoint mean); W = W_0 + lambda * mean. A config's per-model weight and
 * density and global lambda and normalize apply as in mergekit's ties (the sign elected from the weighted values, the
 * mean weighted); two details stay this engine's: k = ceil(density * numel) with ties at the threshold kept (mergekit
 * keeps int(density * numel) by an arbitrary argsort), and an element whose weighted values sum to exactly zero
 * keeps W_0 (mergekit counts the zero sum as positive).
 */
public final class Ties implements TensorRule {

    private final double density;
    private final float scale;

    public Ties(double density, double scale) {
        if (!(density > 0 && density <= 1)) {
            throw new IllegalArgumentException("ties density must lie in (0, 1], got " + density);
        }
        this.density = density;
        this.scale = (float) scale;
    }

    @Override
    public String label() {
        return "ties";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        int n = job.taskCount();
        long numel = job.numel();
        // Trim: keep |tau_i| >= the k-th largest magnitude of tau_i (ties at the threshold are kept).
        float[] threshold = new float[n];
        float[] w = new float[n];
        for (int i = 0; i < n && numel > 0; i++) {
            double d = job.modelParam(i, "density", density);
            if (!(d > 0 && d <= 1)) {
                throw new IllegalArgumentException("tensor " + job.name() + ": ties density must lie in (0, 1], model "
                        + (job.modelIndices().get(i) + 1) + " has " + d);
            }
            long k = Math.max(1, (long) Math.ceil(d * numel));
            threshold[i] = k >= numel ? 0f
                    : MagnitudeThreshold.kthLargest(job.base(), job.models().get(i), numel, k);
        }
        for (int i = 0; i < n; i++) {
            w[i] = (float) job.modelParam(i, "weight", 1.0);   // a config's per-model weight: W_i = w_i tau_i
        }
        float lambda = (float) job.params().global("lambda", scale);
        boolean normalize = job.params().global("normalize", 1) != 0;
        Chunks.forEach(job, (first, count, base, models, o) -> {
            for (int j = 0; j < count; j++) {
                float w0 = base[j];
                float elected = 0f; // sign of sum_i w_i trimmed tau_i
                for (int i = 0; i < n; i++) {
                    float t = models[i][j] - w0;
                    if (Math.abs(t) >= threshold[i]) {
                        elected += w[i] * t;
                    }
                }
                float sum = 0f;
                float div = 0f;
                if (elected != 0f) {
                    for (int i = 0; i < n; i++) {
                        float t = models[i][j] - w0;
                        if (t != 0f && Math.abs(t) >= threshold[i] && (w[i] * t > 0) == (elected > 0)) {
                            sum += w[i] * t;
                            div += w[i];           // the disjoint mean: the agreeing models' weights
                        }
                    }
                }
                o[j] = div == 0f ? w0 : w0 + lambda * (normalize ? sum / div : sum);
            }
            sink.writeFloats(o, 0, count);
        });
        return TensorOutcome.NONE;
    }
}
