package dev.wudi.backend.cuda;

import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaEvent;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.cuda.PinnedBuffer;
import java.nio.ByteBuffer;

/**
 * Moves host arrays to and from device memory through two pinned chunks of at most {@link #CHUNK_BYTES}
 * each, ping-ponged: while the DMA engine copies one chunk, the host fills or drains the other. One stage per
 * backend, shared by its problems (a backend is used by one thread at a time): pinned memory stays bounded whatever
 * the tensor's size and the number of tensors, and is allocated when a transfer first needs bigger chunks, so a warm
 * merge pins nothing per tensor.
 */
final class PinnedStage implements AutoCloseable {

    /**
     * Bytes per pinned chunk, a multiple of 16: 64 MiB, or the system property wudi.cuda.stageChunkBytes
     * (tests set a few KiB so that every transfer crosses several chunks).
     */
    static final long CHUNK_BYTES = Math.max(16, Long.getLong("wudi.cuda.stageChunkBytes", 64L << 20) / 16 * 16);

    private final CudaDevice device;
    private long chunk;
    private final PinnedBuffer[] pinned = new PinnedBuffer[2];
    private final CudaEvent[] free = new CudaEvent[2];   // recorded after the last DMA that used pinned[b]

    PinnedStage(CudaDevice device) {
        this.device = device;
    }

    /**
     * Makes the chunks big enough for transfers of {@code largestTransfer} bytes in one piece, up to
     * {@link #CHUNK_BYTES}: the first tensor of a bigger size re-pins (twice the old size at least, so sizes that grow
     * slowly do not re-pin every time), the others reuse.
     */
    void ensure(long largestTransfer) {
        long want = Math.max(16, Math.min(CHUNK_BYTES, (largestTransfer + 15) / 16 * 16));
        if (want <= chunk) {
            return;
        }
        want = Math.min(Math.max(want, 2 * chunk), CHUNK_BYTES);
        release();
        boolean ok = false;
        try {
            for (int b = 0; b < 2; b++) {
                pinned[b] = device.allocatePinned(want, "the pinned staging area of cuda:" + device.ordinal());
                free[b] = device.newEvent(false);
            }
            chunk = want;
            ok = true;
        } finally {
            if (!ok) {
                release();
            }
        }
    }

    /** Queues src (all of it) into dst from byte 0; src may be reused when this returns. */
    void upload(float[] src, DeviceBuffer dst, CudaStream stream) {
        long total = 4L * src.length;
        ensure(total);
        int i = 0;
        for (long off = 0; off < total; off += chunk, i++) {
            int b = i & 1;
            int floats = (int) (Math.min(chunk, total - off) / 4);
            free[b].synchronize("staging an upload");
            pinned[b].put(src, (int) (off / 4), floats);
            dst.copyRangeFromAsync(off, pinned[b], 4L * floats, stream);
            free[b].record(stream);
        }
    }

    /** Queues src's bytes from position to limit into dst from byte 0; src is not moved. */
    void upload(ByteBuffer src, DeviceBuffer dst, CudaStream stream) {
        ByteBuffer from = src.duplicate();
        long total = from.remaining();
        ensure(total);
        int i = 0;
        for (long off = 0; off < total; off += chunk, i++) {
            int b = i & 1;
            int len = (int) Math.min(chunk, total - off);
            free[b].synchronize("staging an upload");
            ByteBuffer part = from.slice();
            part.limit(len);
            pinned[b].bytesView().put(part);
            from.position(from.position() + len);
            dst.copyRangeFromAsync(off, pinned[b], len, stream);
            free[b].record(stream);
        }
    }

    /** Copies src's first dst.length floats into dst, in stream order after the work already queued; blocks. */
    void download(DeviceBuffer src, float[] dst, CudaStream stream) {
        download(src, 4L * dst.length, stream, (chunkBuf, off, len) -> chunkBuf.get(dst, (int) (off / 4), len / 4));
    }

    /** Fills dst from its position to its limit with src's first bytes, in stream order; blocks. dst's position ends at its limit. */
    void download(DeviceBuffer src, ByteBuffer dst, CudaStream stream) {
        int start = dst.position();
        download(src, dst.remaining(), stream, (chunkBuf, off, len) -> {
            ByteBuffer part = chunkBuf.bytesView().duplicate();
            part.position(0).limit(len);
            dst.position(start + (int) off);
            dst.put(part);
        });
    }

    /** Receives bytes [off, off+len) of a download, landed at the start of a pinned chunk. */
    @FunctionalInterface
    private interface Drain {
        void accept(PinnedBuffer chunkBuf, long off, int len);
    }

    /**
     * The first total bytes of src, chunk by chunk through the two pinned buffers: chunk i is queued
     * while chunk i-2 (landed in the same buffer) is drained on the host.
     */
    private void download(DeviceBuffer src, long total, CudaStream stream, Drain drain) {
        ensure(total);
        int count = (int) ((total + chunk - 1) / chunk);
        for (int i = 0; i < count + 2; i++) {
            int b = i & 1;
            if (i >= 2) {                       // chunk i-2 landed in pinned[b]: drain it
                long off = (long) (i - 2) * chunk;
                free[b].synchronize("downloading a result");
                drain.accept(pinned[b], off, (int) Math.min(chunk, total - off));
            }
            if (i < count) {
                long off = (long) i * chunk;
                src.copyRangeToAsync(off, pinned[b], 0, Math.min(chunk, total - off), stream);
                free[b].record(stream);
            }
        }
    }

    private void release() {
        for (int b = 0; b < 2; b++) {
            if (free[b] != null) {
                free[b].synchronize("releasing pinned staging");
                free[b].close();
                free[b] = null;
            }
            if (pinned[b] != null) {
                pinned[b].close();
                pinned[b] = null;
            }
        }
        chunk = 0;
    }

    @Override
    public void close() {
        release();
    }
}
