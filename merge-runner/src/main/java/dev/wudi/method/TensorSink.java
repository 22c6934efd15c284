package dev.wudi.method;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Where a rule writes its output tensor, sequentially from the first element to the last. */
public interface TensorSink {

    /** Appends float32 values, encoded in the job's output dtype. */
    void writeFloats(float[] src, int off, int count) throws IOException;

    /** Appends raw bytes, already in the output dtype. */
    void writeRaw(ByteBuffer bytes) throws IOException;
}
