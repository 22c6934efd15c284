package dev.wudi.method;

import java.io.IOException;

/**
 * TIES-Merging (Yadav et al., NeurIPS 2023): trim each task vector to its top-density fraction of
 * magnitudes, elect a sign per element (sign of the sum of trimmed values), and average only the
 * trimmed values that agree with it (disjoint mean); W = W_0 + lambda * mean.
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
        long k = Math.max(1, (long) Math.ceil(density * numel));
        for (int i = 0; i < n && numel > 0; i++) {
            threshold[i] = k >= numel ? 0f
                    : MagnitudeThreshold.kthLargest(job.base(), job.models().get(i), numel, k);
        }
        Chunks.forEach(job, (first, count, base, models, o) -> {
            for (int j = 0; j < count; j++) {
                float w0 = base[j];
                float elected = 0f; // sign of sum_i trimmed tau_i
                for (int i = 0; i < n; i++) {
                    float t = models[i][j] - w0;
                    if (Math.abs(t) >= threshold[i]) {
                        elected += t;
                    }
                }
                float sum = 0f;
                int agree = 0;
                if (elected != 0f) {
                    for (int i = 0; i < n; i++) {
                        float t = models[i][j] - w0;
                        if (t != 0f && Math.abs(t) >= threshold[i] && (t > 0) == (elected > 0)) {
                            sum += t;
                            agree++;
                        }
                    }
                }
                o[j] = agree == 0 ? w0 : w0 + scale * (sum / agree);
            }
            sink.writeFloats(o, 0, count);
        });
        return TensorOutcome.NONE;
    }
}
