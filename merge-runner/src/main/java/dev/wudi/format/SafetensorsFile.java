package dev.wudi.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A validated, memory-mapped, read-only safetensors file. API CONTRACT (to be implemented).
 */
public final class SafetensorsFile implements AutoCloseable {

    /** Opens and fully validates the header (SPEC section 4, checks in SafetensorsException.Kind order). */
    public static SafetensorsFile open(Path path) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    public Path path() {
        throw new UnsupportedOperationException("TODO");
    }

    /** Tensors in data (offset) order. */
    public List<TensorInfo> tensors() {
        throw new UnsupportedOperationException("TODO");
    }

    public boolean contains(String name) {
        throw new UnsupportedOperationException("TODO");
    }

    /** @throws SafetensorsException of kind TENSOR_NOT_FOUND naming file and tensor */
    public TensorInfo tensor(String name) throws SafetensorsException {
        throw new UnsupportedOperationException("TODO");
    }

    /** The __metadata__ map (string to string), insertion-ordered, empty when absent. */
    public Map<String, String> metadata() {
        throw new UnsupportedOperationException("TODO");
    }

    /** Reads count elements of a mergeable (F32/F16/BF16) tensor from element index first, widened to float32. */
    public void readFloats(TensorInfo t, long first, float[] dst, int dstOff, int count) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Copies dst.remaining() raw bytes of tensor t starting at byteOffset within the tensor into dst. */
    public void readBytes(TensorInfo t, long byteOffset, ByteBuffer dst) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    @Override
    public void close() {
    }
}
