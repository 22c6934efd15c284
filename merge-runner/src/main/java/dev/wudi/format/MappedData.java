package dev.wudi.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * The data area of a file, memory-mapped read-only in windows. One MappedByteBuffer can address at most
 * 2 GiB, so larger files (and tensors) are split into windows and a read may cross from one to the next.
 *
 * <p>Thread-safe: the windows' own positions are never touched; every read works on a fresh slice.
 */
final class MappedData {

    /** Window size used for real files; a power of two well under the 2 GiB limit of a buffer. */
    static final int DEFAULT_WINDOW = 1 << 30;

    private final ByteBuffer[] windows;
    private final long window;
    private final long size;

    private MappedData(ByteBuffer[] windows, long window, long size) {
        this.windows = windows;
        this.window = window;
        this.size = size;
    }

    /** Maps [start, start+size) of the channel; the mapping outlives the channel. */
    static MappedData map(FileChannel channel, long start, long size, int window) throws IOException {
        if (window <= 0) {
            throw new IllegalArgumentException("window must be positive: " + window);
        }
        int count = Math.toIntExact((size + window - 1) / window);
        MappedByteBuffer[] windows = new MappedByteBuffer[count];
        for (int i = 0; i < count; i++) {
            long offset = (long) i * window;
            windows[i] = channel.map(FileChannel.MapMode.READ_ONLY, start + offset, Math.min(window, size - offset));
        }
        return new MappedData(windows, window, size);
    }

    /** [start, start+size) of an in-memory buffer, as one window (for parsing bytes that are not a file). */
    static MappedData wrap(ByteBuffer buffer, int start, int size) {
        ByteBuffer window = buffer.slice(start, size);
        return new MappedData(new ByteBuffer[]{window}, Math.max(1, size), size);
    }

    long size() {
        return size;
    }

    /**
     * The largest read-only view starting at pos that lies in one window, at most maxBytes (&gt; 0) long;
     * its position is 0 and its byte order big-endian (callers pick their own).
     */
    ByteBuffer view(long pos, long maxBytes) {
        checkRange(pos, 1);
        int w = (int) (pos / window);
        int within = (int) (pos - (long) w * window);
        int length = (int) Math.min(maxBytes, windows[w].capacity() - within);
        return windows[w].slice(within, length);
    }

    /** Copies dst.remaining() bytes from pos into dst, crossing windows as needed. */
    void copy(long pos, ByteBuffer dst) {
        checkRange(pos, dst.remaining());
        while (dst.hasRemaining()) {
            ByteBuffer part = view(pos, dst.remaining());
            pos += part.remaining();
            dst.put(part);
        }
    }

    private void checkRange(long pos, long length) {
        if (pos < 0 || length < 0 || pos > size - length) {
            throw new IndexOutOfBoundsException("bytes [" + pos + ", " + pos + " + " + length
                    + ") outside data area of " + size);
        }
    }
}
