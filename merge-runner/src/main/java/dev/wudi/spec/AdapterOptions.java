package dev.wudi.spec;

/**
 * How a merge of LoRA adapters writes its result as an adapter (--as-adapter).
 *
 * @param rank the rank of a merged delta that is not low-rank by construction (Adam's, an element-wise method's),
 *             truncated by SVD; 0: the sum of the ranks of the adapters that adapt the module (--adapter-rank)
 */
public record AdapterOptions(int rank) {

    public AdapterOptions {
        if (rank < 0) {
            throw new IllegalArgumentException("--adapter-rank must be >= 1, got " + rank);
        }
    }
}
