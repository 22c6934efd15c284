package dev.wudi.method;

/** Where a merge's per-tensor method parameters come from: a mergekit config ({@code dev.wudi.config}), or none. */
@FunctionalInterface
public interface ParameterSource {

    /** No per-tensor parameters. */
    ParameterSource NONE = name -> TensorParameters.NONE;

    /** The parameters that apply to the tensor of this name (in the base's naming). */
    TensorParameters forTensor(String tensorName);

    /** The seed of the random methods (DARE, DELLA): a config's random_seed, else 0. */
    default long seed() {
        return 0;
    }
}
