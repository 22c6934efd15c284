/**
 * What the CPU's and the GPU's Adam share: the scalars of each step, formed once, so that both backends and their
 * references round the same numbers (specification 2.1).
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api} in wudi-merge-runner; this package may
 * change in any release.
 */
package dev.wudi.adam;
