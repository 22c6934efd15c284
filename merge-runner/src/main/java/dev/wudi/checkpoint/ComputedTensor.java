package dev.wudi.checkpoint;

import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A tensor no file holds as such, whose values are computed when read: a LoRA adapter's weight W_0 + scaling B A
 * (dev.wudi.lora), or the zeros that stand for an absent base. Read through {@link TensorRef#computed}, it goes
 * wherever a stored tensor goes; its dtype is F32, since it is computed in float32.
 */
public interface ComputedTensor {

    /** Its name, F32 dtype and shape (begin/end describe float32 bytes from 0: no file holds them). */
    TensorInfo info();

    /** The file it is computed from, for messages. */
    Path path();

    /** Reads elements [first, first + count) into dst[off, off + count). */
    void readFloats(long first, float[] dst, int off, int count) throws IOException;

    /**
     * This tensor as base + an exactly known delta: the view that reads only the delta, or null where it is not
     * of that form over {@code base} (the same tensor of the same checkpoint). Reading the delta itself spares the
     * rounding of (W_0 + delta) - W_0 in float32.
     */
    default ComputedTensor deltaOver(TensorRef base) {
        return null;
    }
}
