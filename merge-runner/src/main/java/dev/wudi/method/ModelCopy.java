package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;

/**
 * Takes the tensor from the job's one model as it is (--heads from:K: model K's task head in the output):
 * bytes verbatim where the output dtype is the model's, else widened to float32 and encoded.
 */
public final class ModelCopy implements TensorRule {

    private static final int CHUNK = 1 << 20;

    @Override
    public String label() {
        return "from model";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        if (job.models().size() != 1) {
            throw new IllegalStateException("tensor " + job.name() + ": a copy from one model was given "
                    + job.models().size());
        }
        TensorRef m = job.models().get(0);
        if (job.outDType() == m.info().dtype()) {
            RawCopy.copy(m, sink::writeRaw);
        } else {
            long numel = m.info().numel();
            float[] chunk = new float[(int) Math.min(CHUNK, Math.max(1, numel))];
            for (long first = 0; first < numel; first += chunk.length) {
                int count = (int) Math.min(chunk.length, numel - first);
                m.readFloats(first, chunk, 0, count);
                sink.writeFloats(chunk, 0, count);
            }
        }
        return TensorOutcome.NONE;
    }
}
