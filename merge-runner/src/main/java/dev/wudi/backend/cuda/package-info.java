/**
 * The CUDA backend: device memory, the custom kernels, cuBLAS and cuSOLVER through JNA.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.backend.cuda;
