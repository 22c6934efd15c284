package dev.wudi.method;

import java.io.IOException;

/** Task arithmetic: W = W_0 + lambda * sum_i (W_i - W_0) (Ilharco et al., 2023). */
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
        Chunks.forEach(job, (first, count, base, models, o) -> {
            for (int j = 0; j < count; j++) {
                float w0 = base[j];
                float sum = 0f;
                for (int i = 0; i < n; i++) {
                    sum += models[i][j] - w0; // tau_i = W_i - W_0, in float32
                }
                o[j] = w0 + scale * sum;
            }
            sink.writeFloats(o, 0, count);
        });
        return TensorOutcome.NONE;
    }
}
