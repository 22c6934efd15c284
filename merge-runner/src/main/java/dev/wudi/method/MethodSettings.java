package dev.wudi.method;

/**
 * The settings a merge gives its method's rule: the effective coefficient and density (given, or the method's
 * defaults), the seed of the random draws, and, for WUDI, the rule the merge builds on its backend with its solver
 * and a description of that solver; and the per-tensor parameters a config gives.
 */
public interface MethodSettings {

    /** The coefficient on the (merged) task vector. */
    double scale();

    /** The fraction of each task vector kept. */
    double density();

    /** The seed of the random draws. */
    long seed();

    /** WUDI's rule, on the merge's backend with its solver. */
    TensorRule wudi();

    /** WUDI's solver and its settings, as the report names them: "adam lr 1.0E-5, 300 steps". */
    String solverDescription();

    /** WUDI's --scale auto: the coefficient decided per matrix by {@link CoverageRule}. */
    default boolean scaleAuto() {
        return false;
    }

    /** The per-tensor parameters given (a config's), which win over the settings above where they apply. */
    default ParameterSource parameters() {
        return ParameterSource.NONE;
    }
}
