/**
 * The backend interface WUDI solves on (CPU reference, CUDA) and their selection.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.backend;
