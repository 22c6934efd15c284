package dev.wudi.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import jcuda.Pointer;

/**
 * Page-locked host memory from cuMemHostAlloc: the staging area of every host-device transfer, so copies
 * run at full PCIe/NVLink speed and asynchronously. Seen from Java as a little-endian direct ByteBuffer.
 */
public final class PinnedBuffer implements AutoCloseable {

    private final Pointer ptr = new Pointer();
    private final long bytes;
    private final String purpose;
    private final ByteBuffer view;
    private boolean closed;

    PinnedBuffer(long bytes, String purpose) {
        if (bytes <= 0 || bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pinned buffer for " + purpose + " must hold 1.." + Integer.MAX_VALUE
                    + " bytes (a direct ByteBuffer's limit), got " + bytes);
        }
        this.bytes = bytes;
        this.purpose = purpose;
        Driver.memHostAlloc(ptr, bytes, "allocating " + bytes + " pinned host bytes for " + purpose);
        this.view = ptr.getByteBuffer(0, bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    public long bytes() {
        return bytes;
    }

    /** The whole buffer as bytes; position 0, limit = capacity. */
    public ByteBuffer bytesView() {
        ensureOpen();
        return view.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The whole buffer as floats. */
    public FloatBuffer floats() {
        return bytesView().asFloatBuffer();
    }

    /** Copies {@code src} to the start of the buffer. */
    public void put(float[] src) {
        checkRange(4L * src.length);
        floats().put(src);
    }

    /** Copies src[from .. from + count) to the start of the buffer. */
    public void put(float[] src, int from, int count) {
        checkRange(4L * count);
        floats().put(src, from, count);
    }

    /** Copies the first {@code count} floats of the buffer into dst[from ..]. */
    public void get(float[] dst, int from, int count) {
        checkRange(4L * count);
        floats().get(dst, from, count);
    }

    /** Copies the first {@code dst.length} floats of the buffer into {@code dst}. */
    public void get(float[] dst) {
        checkRange(4L * dst.length);
        floats().get(dst);
    }

    Pointer pointer() {
        ensureOpen();
        return ptr;
    }

    void checkRange(long count) {
        if (count < 0 || count > bytes) {
            throw new IllegalArgumentException(count + " bytes do not fit the " + bytes + "-byte pinned buffer for " + purpose);
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("pinned buffer for " + purpose + " is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Driver.memFreeHost(ptr, "freeing pinned memory for " + purpose);
        }
    }
}
