package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;

/**
 * Takes the tensor from the job's one model as it is (--heads from:K: model K's task head in the output):
 * bytes verbatim where the output dtype is the model's, else widened to float32 and encoded.
 */
public final class ModelCopy implements TensorRule {

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
            TensorCopy.bytes(m, sink::writeRaw);
        } else {
            TensorCopy.floats(m, sink);
        }
        return TensorOutcome.NONE;
    }
}
