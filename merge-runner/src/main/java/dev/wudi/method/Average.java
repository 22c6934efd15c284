package dev.wudi.method;

import java.io.IOException;

/** Model soup / weight averaging: W = (1/n) sum_i W_i (Wortsman et al., 2022). */
public final class Average implements TensorRule {

    @Override
    public String label() {
        return "average";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        int n = job.taskCount();
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
}
