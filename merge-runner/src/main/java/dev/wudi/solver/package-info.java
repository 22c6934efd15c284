/**
 * WUDI's solvers: the Gram form and PyTorch-exact Adam (specification 2).
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.solver;
