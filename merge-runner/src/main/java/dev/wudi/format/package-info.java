/**
 * The safetensors format: our reader and writer.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.format;
