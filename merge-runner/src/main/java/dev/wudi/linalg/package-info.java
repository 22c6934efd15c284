/**
 * The linear algebra below the solvers and the backends: OpenBLAS through bytedeco on native buffers ({@code Blas},
 * {@code NativeFloats}) and the OpenBLAS environment it must be started with. The solver math (dev.wudi.solver) and
 * the CPU backend both build on it; neither depends on the other for it.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any release.
 */
package dev.wudi.linalg;
