/**
 * WUDI's solvers: the Gram form and PyTorch-exact Adam (specification 2), what a solve returns
 * ({@link dev.wudi.solver.WudiResult}) and who watches its steps ({@link dev.wudi.solver.StepListener}). Below the
 * backends: nothing here imports {@code dev.wudi.backend}.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.solver;
