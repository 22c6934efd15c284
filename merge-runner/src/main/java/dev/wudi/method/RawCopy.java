package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A tensor's bytes as they are, in chunks of at most 8 MB, for copies that keep the dtype. */
public final class RawCopy {

    private static final int COPY_BYTES = 8 << 20;

    /** Receives one chunk (position to limit); the buffer is reused for the next. */
    @FunctionalInterface
    public interface Chunk {
        void accept(ByteBuffer bytes) throws IOException;
    }

    private RawCopy() {
    }

    public static void copy(TensorRef t, Chunk out) throws IOException {
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
}
