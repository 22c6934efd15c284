package dev.wudi.backend;

import dev.wudi.format.DType;
import java.nio.ByteBuffer;

/**
 * Optional extension of {@link WudiProblem} for backends that form task vectors themselves from the raw
 * checkpoint bytes (specification 1: tau_i = W_i - W_0), widening F16/BF16 to float32 on the way (specification 2.1). On the
 * GPU this uploads W_0 once and then 2 bytes per element per task instead of 4, and leaves the subtraction
 * and widening to the device. The result is the same as {@code addTaskVector(widen(W_i) - widen(W_0))},
 * bit for bit. A merge loop uses it only through {@code instanceof}.
 */
public interface CheckpointWudiProblem extends WudiProblem {

    /**
     * Sets W_0: rows*cols little-endian elements of {@code dtype} (F32, F16 or BF16), read from the buffer's
     * position to its limit during the call. Call once, before {@link #addFineTuned}.
     *
     * @throws IllegalArgumentException if the dtype is not mergeable or the byte count is not rows*cols*size
     */
    void setBase(ByteBuffer w0, DType dtype);

    /**
     * Adds tau_i = W_i - W_0, W_i given like the base and in the base's dtype.
     *
     * @throws IllegalStateException if no base was set
     * @throws IllegalArgumentException if the byte count differs from the base's
     */
    void addFineTuned(ByteBuffer wi);
}
