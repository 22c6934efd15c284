/**
 * The native CPU kernel (the fused Adam pass in C) and its loader.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api} in wudi-merge-runner; this package may
 * change in any release.
 */
package dev.wudi.cpu;
