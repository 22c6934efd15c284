/**
 * A merge from its spec to its bytes: {@link dev.wudi.merge.MergeSession} opens, checks and plans the inputs once,
 * {@link dev.wudi.merge.TensorRules} gives every tensor its rule, {@link dev.wudi.merge.TensorLoop} computes the
 * tensors into a target ({@link dev.wudi.merge.CheckpointOutput}, a part file, an adapter), and the report is made
 * once; {@link dev.wudi.merge.Merger} does it in one process, {@link dev.wudi.merge.DistributedMerge} in pieces.
 * docs/architecture.md walks through it.
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.merge;
