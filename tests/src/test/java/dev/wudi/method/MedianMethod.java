package dev.wudi.method;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The element-wise median of the fine-tuned weights: a method added to the engine in this one file and one line of
 * META-INF/services/dev.wudi.method.MergeMethod, with nothing else edited ({@link AddedMethodTest}).
 */
public final class MedianMethod extends MergeMethod {

    public MedianMethod() {
        super("median", "element-wise median of the fine-tuned weights", "a method added by the test suite",
                List.of(), Scope.ALL_FLOATING);
    }

    @Override
    public ConfigParams config() {
        return new ConfigParams(Set.of(), Set.of(), Set.of(), Map.of());
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return new TensorRule() {
            @Override
            public String label() {
                return "median";
            }

            @Override
            public TensorOutcome apply(TensorJob job, TensorSink sink) throws java.io.IOException {
                int n = job.taskCount();
                float[] v = new float[n];
                Chunks.forEach(job, (first, count, base, models, out) -> {
                    for (int j = 0; j < count; j++) {
                        for (int i = 0; i < n; i++) {
                            v[i] = models[i][j];
                        }
                        Arrays.sort(v);
                        out[j] = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
                    }
                    sink.writeFloats(out, 0, count);
                });
                return TensorOutcome.NONE;
            }
        };
    }
}
