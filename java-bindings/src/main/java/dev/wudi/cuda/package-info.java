/**
 * The JCuda driver bindings: the probe, the primary context, module loading and the kernel launches.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api} in wudi-merge-runner; this package may
 * change in any release.
 */
package dev.wudi.cuda;
