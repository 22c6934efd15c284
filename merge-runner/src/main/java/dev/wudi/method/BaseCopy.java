package dev.wudi.method;

import java.io.IOException;

/**
 * Keeps the base's value (what the official WUDI code does for tensors it does not optimise). Copies
 * bytes verbatim when the output dtype is the base's, so non-float tensors pass through untouched.
 */
public final class BaseCopy implements TensorRule {

    @Override
    public String label() {
        return "base";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        if (job.outDType() == job.info().dtype()) {
            TensorCopy.bytes(job.base(), sink::writeRaw);
        } else {
            TensorCopy.floats(job.base(), sink);         // the base alone: the models are not read
        }
        return TensorOutcome.NONE;
    }
}
