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

    /**
     * The parameters as given, for the reports' description of the method ("lambda 0.6; model 1: density 0.5,
     * weight 1; model 2: ..."), or "" where none is given.
     */
    default String describe() {
        return "";
    }

    /**
     * Whether every model's value of this parameter (a config's name: lambda, density, t) comes from here for every
     * tensor, so that the merge's own setting of it applies nowhere and a description leaves that setting out.
     */
    default boolean givesEverywhere(String name) {
        return false;
    }
}
