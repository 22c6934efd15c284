/**
 * Checkpoints (files, folders, shards) read and written, with the journal that makes --resume work.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.checkpoint;
