/**
 * The benchmarks behind `wudi bench` and docs/benchmarks.md.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.bench;
