package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;
import java.util.List;

/**
 * Streams a tensor and its counterparts chunk by chunk, so element-wise rules run in memory that does
 * not grow with the tensor (an embedding of a large model can be several GB).
 */
final class Chunks {

    /** 1M elements: large enough for throughput, small enough for n models x a few buffers. */
    static final int CHUNK = 1 << 20;

    private Chunks() {
    }

    /**
     * Receives element range [first, first+count) of base (in base[]) and of each model (models[i]), and
     * a scratch array of the same capacity for the output chunk.
     */
    interface ChunkConsumer {
        void accept(long first, int count, float[] base, float[][] models, float[] out) throws IOException;
    }

    static void forEach(TensorJob job, ChunkConsumer consumer) throws IOException {
        long numel = job.numel();
        int cap = (int) Math.min(CHUNK, Math.max(numel, 1));
        float[] base = new float[cap];
        List<TensorRef> refs = job.models();
        float[][] models = new float[refs.size()][cap];
        float[] out = new float[cap];
        for (long first = 0; first < numel; first += cap) {
            int count = (int) Math.min(cap, numel - first);
            job.base().readFloats(first, base, 0, count);
            for (int i = 0; i < refs.size(); i++) {
                refs.get(i).readFloats(first, models[i], 0, count);
            }
            consumer.accept(first, count, base, models, out);
        }
    }
}
