package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.TensorInfo;
import dev.wudi.model.Layout;
import java.util.List;

/**
 * Everything one output tensor is computed from: its entry in the base, the same tensor in each fine-tuned
 * model that takes part (in --model order; a model left out of this tensor is absent), the dtype it is written
 * in, and its layout (how WUDI sees its matrices in the paper's [out, in] orientation).
 */
public record TensorJob(String name, TensorRef base, List<TensorRef> models, DType outDType, Layout layout,
                        List<Integer> modelIndices, TensorParameters params) {

    public TensorJob {
        models = List.copyOf(models);
        modelIndices = List.copyOf(modelIndices);
        if (modelIndices.size() != models.size()) {
            throw new IllegalArgumentException("tensor " + name + ": " + models.size() + " models but "
                    + modelIndices.size() + " model indices");
        }
    }

    /** A job of models 0..n-1 in order, without per-tensor parameters. */
    public TensorJob(String name, TensorRef base, List<TensorRef> models, DType outDType, Layout layout) {
        this(name, base, models, outDType, layout, range(models.size()), TensorParameters.NONE);
    }

    private static List<Integer> range(int n) {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(i);
        }
        return out;
    }

    /** Model k of this job's parameter (k indexes {@link #models()}), else the global one, else {@code otherwise}. */
    public double modelParam(int k, String name, double otherwise) {
        return params.model(modelIndices.get(k), name, otherwise);
    }

    /** A job with the layout the shape implies for an nn.Linear model: [out, in], a convolution, or a vector. */
    public TensorJob(String name, TensorRef base, List<TensorRef> models, DType outDType) {
        this(name, base, models, outDType, defaultLayout(base.info().rank()));
    }

    /** [out, in] for a matrix, [out, in*k...] for higher ranks, a vector below. */
    public static Layout defaultLayout(int rank) {
        return rank < 2 ? Layout.VECTOR : rank == 2 ? Layout.OUT_IN : Layout.CONV;
    }

    public TensorInfo info() {
        return base.info();
    }

    public long numel() {
        return base.info().numel();
    }

    public int taskCount() {
        return models.size();
    }

    /** The same job over other parts of the tensors (a sub-range of rows, one expert). */
    public TensorJob with(TensorRef base, List<TensorRef> models, Layout layout) {
        return new TensorJob(name, base, models, outDType, layout, modelIndices, params);
    }
}
