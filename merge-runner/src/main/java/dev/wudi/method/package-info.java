/**
 * The merge methods and the per-tensor rules (WUDI and the element-wise methods).
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.method;
