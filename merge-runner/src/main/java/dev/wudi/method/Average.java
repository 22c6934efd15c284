package dev.wudi.method;

import java.io.IOException;

/**
 * Model soup / weight averaging: W = (1/n) sum_i W_i (Wortsman et al., 2022); with per-model weights (a config's
 * linear), mergekit's linear: W = sum_i w_i W_i, divided by sum_i w_i when normalize (the default).
 */
public final class Average implements TensorRule {

    @Override
    public String label() {
        return "average";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        int n = job.taskCount();
        if (job.params().model(job.modelIndices().isEmpty() ? 0 : job.modelIndices().get(0), "weight") != null) {
            return weighted(job, sink);
        }
        Chunks.forEach(job, (first, count, base, models, out) -> {
            for (int j = 0; j < count; j++) {
                float s = 0f;
                for (int i = 0; i < n; i++) {
                    s += models[i][j];
                }
                out[j] = s / n;
            }
            sink.writeFloats(out, 0, count);
        });
        return TensorOutcome.NONE;
    }

    private static TensorOutcome weighted(TensorJob job, TensorSink sink) throws IOException {
        int n = job.taskCount();
        float[] w = new float[n];
        float total = 0f;
        for (int i = 0; i < n; i++) {
            w[i] = (float) job.modelParam(i, "weight", Double.NaN);
            if (Float.isNaN(w[i])) {
                throw new IllegalArgumentException("tensor " + job.name() + ": linear needs a weight for model "
                        + (job.modelIndices().get(i) + 1));
            }
            total += w[i];
        }
        boolean normalize = job.params().global("normalize", 1) != 0;
        if (normalize && !Float.isFinite(total)) {
            // dividing by an infinite sum would write zeros (or NaN) where the user meant a weighted mean
            throw new IllegalArgumentException("tensor " + job.name() + ": linear's weights sum to "
                    + sumInDouble(job, n) + ", beyond float32's range (3.4e38); normalize divides by the sum, so only"
                    + " the weights' ratios matter: scale them down");
        }
        float div = normalize ? total : 1f;
        Chunks.forEach(job, (first, count, base, models, out) -> {
            for (int j = 0; j < count; j++) {
                float s = 0f;
                for (int i = 0; i < n; i++) {
                    s += w[i] * models[i][j];                  // sum_i w_i W_i
                }
                out[j] = s / div;
            }
            sink.writeFloats(out, 0, count);
        });
        return TensorOutcome.NONE;
    }

    private static double sumInDouble(TensorJob job, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += job.modelParam(i, "weight", 0);
        }
        return sum;
    }
}
