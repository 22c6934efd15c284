package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;

/**
 * The k-th largest magnitude |W_i - W_0| of one task vector, found exactly by a two-pass radix select
 * on the float bits (for non-negative floats the bit patterns order like the values), streaming the
 * tensor so that no copy of the whole task vector is needed.
 */
final class MagnitudeThreshold {

    private MagnitudeThreshold() {
    }

    /** @param k 1 <= k <= numel */
    static float kthLargest(TensorRef base, TensorRef model, long numel, long k) throws IOException {
        long[] high = new long[1 << 16];
        histogram(base, model, numel, -1, high);
        int hi = select(high, k);
        long above = countAbove(high, hi);
        long[] low = new long[1 << 16];
        histogram(base, model, numel, hi, low);
        int lo = select(low, k - above);
        return Float.intBitsToFloat((hi << 16) | lo);
    }

    /** Histogram of the high 16 bits (prefix < 0) or of the low 16 bits among values with that prefix. */
    private static void histogram(TensorRef base, TensorRef model, long numel, int prefix, long[] h)
            throws IOException {
        int cap = (int) Math.min(Chunks.CHUNK, Math.max(numel, 1));
        float[] b = new float[cap];
        float[] m = new float[cap];
        for (long first = 0; first < numel; first += cap) {
            int count = (int) Math.min(cap, numel - first);
            base.readFloats(first, b, 0, count);
            model.readFloats(first, m, 0, count);
            for (int j = 0; j < count; j++) {
                int bits = Float.floatToRawIntBits(Math.abs(m[j] - b[j])) & 0x7fffffff;
                if (prefix < 0) {
                    h[bits >>> 16]++;
                } else if ((bits >>> 16) == prefix) {
                    h[bits & 0xffff]++;
                }
            }
        }
    }

    /** The bin holding the k-th largest entry, counting from the top bin down. */
    private static int select(long[] h, long k) {
        long seen = 0;
        for (int bin = h.length - 1; bin >= 0; bin--) {
            seen += h[bin];
            if (seen >= k) {
                return bin;
            }
        }
        throw new IllegalStateException("k=" + k + " exceeds the element count");
    }

    private static long countAbove(long[] h, int bin) {
        long n = 0;
        for (int b = bin + 1; b < h.length; b++) {
            n += h[b];
        }
        return n;
    }
}
