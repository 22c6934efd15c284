package dev.wudi.method;

import java.io.IOException;

/** How one output tensor is computed from the base and the fine-tuned models. */
public interface TensorRule {

    /** Short name for progress and reports: "wudi", "average", "base", ... */
    String label();

    /** Computes the tensor and writes all of it to the sink. */
    TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException;
}
