package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.TensorInfo;
import java.util.List;

/**
 * Everything one output tensor is computed from: its entry in the base, the same tensor in each
 * fine-tuned model (in --model order), and the dtype it is written in.
 */
public record TensorJob(String name, TensorRef base, List<TensorRef> models, DType outDType) {

    public TensorInfo info() {
        return base.info();
    }

    public long numel() {
        return base.info().numel();
    }

    public int taskCount() {
        return models.size();
    }
}
