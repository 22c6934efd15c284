package dev.wudi.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Streams a safetensors file: the header first (padded with spaces to a multiple of 8 bytes), then the
 * tensors' bytes in the order of the specs given. API CONTRACT (to be implemented).
 */
public final class SafetensorsWriter implements AutoCloseable {

    /** One tensor to be written. */
    public record TensorSpec(String name, DType dtype, long[] shape) {
        public long byteSize() {
            long n = dtype.bytes();
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    /** Creates (truncates) path and writes the header; data follow in specs' order. */
    public static SafetensorsWriter create(Path path, List<TensorSpec> specs, Map<String, String> metadata)
            throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Appends raw bytes to the current tensor (moving on to the next when it is full). */
    public void write(ByteBuffer bytes) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Encodes float32 values into the current tensor's dtype (F32/F16/BF16 only) and appends them. */
    public void writeFloats(float[] src, int off, int count) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Checks that every tensor was written completely and forces the file to disk. */
    public void finish() throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Closes; a file not finished is deleted. */
    @Override
    public void close() throws IOException {
    }
}
