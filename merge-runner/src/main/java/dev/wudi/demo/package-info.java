/**
 * The embedded synthetic example behind `wudi demo`.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.demo;
