/**
 * The closed-form solvers (exact, flow, spectral filters) on an eigendecomposition of C.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.solver.spectral;
