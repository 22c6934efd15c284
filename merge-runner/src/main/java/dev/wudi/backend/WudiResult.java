package dev.wudi.backend;

/**
 * The merged task vector of one weight and the interference loss L(tau_m) before the first and after
 * the last Adam step.
 */
public record WudiResult(float[] tauM, double lossBefore, double lossAfter, int steps) {
}
