package dev.wudi.method;

import java.io.IOException;

/**
 * Task arithmetic: W = W_0 + lambda * sum_i (W_i - W_0) (Ilharco et al., 2023); with a config's per-model weights,
 * mergekit's form W_0 + lambda * sum_i w_i tau_i, divided by sum_i w_i under normalize (default off); lambda a
 * config may give per tensor, else the scale this rule was built with.
 */
public final class TaskArithmetic implements TensorRule {

    private final float scale;

    public TaskArithmetic(double scale) {
        this.scale = (float) scale;
    }

    @Override
    public String label() {
        return "task-arithmetic";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        int n = job.taskCount();
        float[] w = new float[n];
        float total = 0f;
        for (int i = 0; i < n; i++) {
            w[i] = (float) job.modelParam(i, "weight", 1.0);
            total += w[i];
        }
        float lambda = (float) job.params().global("lambda", scale);
        boolean normalize = job.params().global("normalize", 0) != 0;
        float div = normalize && Math.abs(total) >= 1e-8f ? total : 1f;
        Chunks.forEach(job, (first, count, base, models, o) -> {
            for (int j = 0; j < count; j++) {
                float w0 = base[j];
                float sum = 0f;
                for (int i = 0; i < n; i++) {
                    sum += w[i] * (models[i][j] - w0); // w_i tau_i, tau_i = W_i - W_0 in float32 (w_i = 1: exact)
                }
                o[j] = w0 + lambda * (sum / div);
            }
            sink.writeFloats(o, 0, count);
        });
        return TensorOutcome.NONE;
    }
}
