/**
 * The description of a merge: every option declared once ({@link dev.wudi.spec.OptionTable}), and the spec built from
 * options given as text by any surface, checked once ({@link dev.wudi.spec.MergeSpec}); the reproduce command, the
 * resume fingerprint, the report's settings and docs/options.md are written from it. A spec travels as text
 * ({@link dev.wudi.spec.SpecText}), from which the same spec is built again.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.spec;
