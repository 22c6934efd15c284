/**
 * The CPU backend: OpenBLAS products and the fused Adam pass, the reference every backend is tested against.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.backend.cpu;
