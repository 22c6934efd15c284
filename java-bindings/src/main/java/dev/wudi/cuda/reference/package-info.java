/**
 * Host references of the CUDA kernels, which the kernels are tested against.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api} in wudi-merge-runner; this package may
 * change in any release.
 */
package dev.wudi.cuda.reference;
