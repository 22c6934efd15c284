/**
 * The wudi library: data-free model merging with WUDI-Merging (Cheng et al., ICML 2025) and the classic merges, from
 * Java. This package is the public API; every other package of the jar is internal and may change without notice.
 *
 * <ol>
 *   <li>{@link dev.wudi.api.CheckpointMerge}: merge whole checkpoints (files, Hugging Face folders, LoRA adapters)
 *       as `wudi merge` does, with progress events ({@link dev.wudi.api.MergeEvents}), cancellation and a report
 *       ({@link dev.wudi.api.MergeResult}).</li>
 *   <li>{@link dev.wudi.api.LayerMerge}: merge one layer given as float arrays or buffers, for tools with their own
 *       I/O.</li>
 *   <li>{@link dev.wudi.api.Devices}: which devices can run here, and why not.</li>
 * </ol>
 *
 * All optimisation arithmetic is float32, whatever the checkpoint's dtype; results match the paper's PyTorch
 * optimisation to float32 rounding.
 */
package dev.wudi.api;
