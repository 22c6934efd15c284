package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One tensor copied as it is: its bytes verbatim where the dtype stays (in chunks of at most 8 MB), or widened
 * to float32 and handed to a sink that encodes the output dtype (in chunks of 1M elements). Only that tensor is
 * read.
 */
public final class TensorCopy {

    private static final int COPY_BYTES = 8 << 20;
    private static final int CHUNK = 1 << 20;

    /** Receives one chunk of bytes (position to limit); the buffer is reused for the next. */
    @FunctionalInterface
    public interface Chunk {
        void accept(ByteBuffer bytes) throws IOException;
    }

    private TensorCopy() {
    }

    public static void bytes(TensorRef t, Chunk out) throws IOException {
        long size = t.info().byteSize();
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(COPY_BYTES, Math.max(size, 1)));
        for (long off = 0; off < size; off += buf.capacity()) {
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), size - off));
            t.readBytes(off, buf);
            buf.flip();
            out.accept(buf);
        }
    }

    /** The tensor's values, widened to float32, into the sink (which encodes its output dtype). */
    public static void floats(TensorRef t, TensorSink sink) throws IOException {
        long numel = t.info().numel();
        float[] chunk = new float[(int) Math.min(CHUNK, Math.max(1, numel))];
        for (long first = 0; first < numel; first += chunk.length) {
            int count = (int) Math.min(chunk.length, numel - first);
            t.readFloats(first, chunk, 0, count);
            sink.writeFloats(chunk, 0, count);
        }
    }
}
