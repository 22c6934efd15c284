package dev.wudi.hub;

import dev.wudi.format.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A tensor kept as raw little-endian bytes, for what checkpoints carry besides float weights (integer
 * buffers such as position_ids), which a merge must copy through untouched.
 */
public record RawTensor(DType dtype, long[] shape, byte[] bytes) {

    public RawTensor {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        if (n * dtype.bytes() != bytes.length) {
            throw new IllegalArgumentException(dtype + " tensor of " + n + " elements needs " + n * dtype.bytes()
                    + " bytes, got " + bytes.length);
        }
    }

    /** An I64 tensor 0, 1, 2, ... such as the position_ids buffer older BERT checkpoints save. */
    public static RawTensor arangeI64(long... shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(n * 8)).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < n; i++) {
            b.putLong(i);
        }
        return new RawTensor(DType.I64, shape.clone(), b.array());
    }
}
