package dev.wudi.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Device memory from cuMemAlloc (256-byte aligned, so every kernel's 16-byte loads are aligned), or a loan of such
 * memory ({@link #lend}): a view of a pooled buffer whose {@link #close()} hands it back instead of freeing it, so
 * that code which closes what it allocated needs no change to work from a pool. {@link #close()} is idempotent. The
 * purpose string goes into every error message about it.
 */
public final class DeviceBuffer implements AutoCloseable {

    private final CUdeviceptr ptr;
    private final long address;
    private final long bytes;
    private final String purpose;
    private final DeviceBuffer owner;      // null: this buffer owns its memory
    private final Runnable giveBack;       // a loan's close
    private boolean closed;

    DeviceBuffer(long bytes, String purpose) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("device buffer for " + purpose + " needs a positive size, got " + bytes);
        }
        RawHandles.DevicePtr p = new RawHandles.DevicePtr();
        this.bytes = bytes;
        this.purpose = purpose;
        this.owner = null;
        this.giveBack = null;
        Driver.memAlloc(p, bytes, "allocating " + bytes + " bytes for " + purpose);
        this.ptr = p;
        this.address = p.address();
    }

    private DeviceBuffer(DeviceBuffer owner, String purpose, Runnable giveBack) {
        this.ptr = owner.pointer();
        this.address = owner.address;
        this.bytes = owner.bytes;
        this.purpose = purpose;
        this.owner = owner;
        this.giveBack = giveBack;
    }

    /**
     * A loan of this whole buffer for {@code purpose}: the same memory, named for its use; closing the loan runs
     * {@code giveBack} once (a pool takes the memory back) and leaves this buffer allocated.
     */
    public DeviceBuffer lend(String purpose, Runnable giveBack) {
        ensureOpen();
        if (owner != null) {
            throw new IllegalStateException("device buffer for " + this.purpose + " is itself a loan");
        }
        return new DeviceBuffer(this, purpose, giveBack);
    }

    public long bytes() {
        return bytes;
    }

    public String purpose() {
        return purpose;
    }

    /** The device address, for cuBLAS. */
    public long address() {
        ensureOpen();
        return address;
    }

    CUdeviceptr pointer() {
        ensureOpen();
        return ptr;
    }

    /** Whether this is a {@link #lend loan} of a pooled buffer. */
    public boolean isLoan() {
        return owner != null;
    }

    /** Zero the first {@code count} bytes, in stream order. */
    public void zeroAsync(long count, CudaStream stream) {
        fillAsync((byte) 0, count, stream);
    }

    /** Set the first {@code count} bytes to {@code value}, in stream order (0xff: NaN floats, to show unwritten reads). */
    public void fillAsync(byte value, long count, CudaStream stream) {
        checkRange(count);
        Driver.memsetD8Async(pointer(), value, count, stream.handle(), "filling " + purpose);
    }

    /** Copy {@code count} bytes from pinned host memory, in stream order (the host may not touch src until the stream passes this point). */
    public void copyFromAsync(PinnedBuffer src, long count, CudaStream stream) {
        checkRange(count);
        src.checkRange(count);
        Driver.copyHtoDAsync(pointer(), src.pointer(), count, stream.handle(), "uploading " + purpose);
    }

    /** Copy {@code count} bytes into pinned host memory, in stream order. */
    public void copyToAsync(PinnedBuffer dst, long count, CudaStream stream) {
        checkRange(count);
        dst.checkRange(count);
        Driver.copyDtoHAsync(dst.pointer(), pointer(), count, stream.handle(), "downloading " + purpose);
    }

    /** Copy {@code count} bytes from the start of pinned memory to byte {@code dstOffset} of this buffer, in stream order. */
    public void copyRangeFromAsync(long dstOffset, PinnedBuffer src, long count, CudaStream stream) {
        checkRange(dstOffset + count);
        src.checkRange(count);
        Driver.copyHtoDAsync(pointer().withByteOffset(dstOffset), src.pointer(), count, stream.handle(), "uploading part of " + purpose);
    }

    /** Copy {@code count} bytes from byte {@code srcOffset} of this buffer to byte {@code dstOffset} of pinned memory, in stream order. */
    public void copyRangeToAsync(long srcOffset, PinnedBuffer dst, long dstOffset, long count, CudaStream stream) {
        checkRange(srcOffset + count);
        dst.checkRange(dstOffset + count);
        Driver.copyDtoHAsync(dst.pointer().withByteOffset(dstOffset), pointer().withByteOffset(srcOffset), count,
                stream.handle(), "downloading part of " + purpose);
    }

    /** Copy {@code count} bytes from another device buffer, in stream order. */
    public void copyFromAsync(DeviceBuffer src, long count, CudaStream stream) {
        checkRange(count);
        src.checkRange(count);
        Driver.copyDtoDAsync(pointer(), src.pointer(), count, stream.handle(), "copying " + src.purpose + " to " + purpose);
    }

    // Synchronous copies from and to Java arrays: for tests, benchmarks and small values, not the hot path.
    // They run on the legacy default stream, which does not order itself with the engine's non-blocking
    // streams; so each one waits for the whole context before (downloads) or after (uploads) it.

    public void upload(float[] src) {
        uploadAt(0, Pointer.to(src), 4L * src.length);
    }

    public void upload(short[] src) {
        uploadAt(0, Pointer.to(src), 2L * src.length);
    }

    public void upload(double[] src) {
        uploadAt(0, Pointer.to(src), 8L * src.length);
    }

    /** Uploads src[0 .. count) to byte {@code byteOffset} of this buffer. */
    public void uploadAt(long byteOffset, float[] src, int count) {
        uploadAt(byteOffset, Pointer.to(src), 4L * count);
    }

    /** Uploads src[0 .. count) (16-bit patterns) to byte {@code byteOffset} of this buffer. */
    public void uploadAt(long byteOffset, short[] src, int count) {
        uploadAt(byteOffset, Pointer.to(src), 2L * count);
    }

    public void download(float[] dst) {
        download(Pointer.to(dst), 4L * dst.length);
    }

    public void download(short[] dst) {
        download(Pointer.to(dst), 2L * dst.length);
    }

    public void download(int[] dst) {
        download(Pointer.to(dst), 4L * dst.length);
    }

    public void download(double[] dst) {
        download(Pointer.to(dst), 8L * dst.length);
    }

    private void uploadAt(long byteOffset, Pointer host, long bytes) {
        checkRange(byteOffset + bytes);
        Driver.synchronizeContext();
        Driver.copyHtoD(pointer().withByteOffset(byteOffset), host, bytes, "uploading " + purpose);
        Driver.synchronizeContext();
    }

    private void download(Pointer host, long bytes) {
        checkRange(bytes);
        Driver.synchronizeContext();
        Driver.copyDtoH(host, pointer(), bytes, "downloading " + purpose);
    }

    void checkRange(long count) {
        if (count < 0 || count > bytes) {
            throw new IllegalArgumentException(count + " bytes do not fit the " + bytes + "-byte buffer for " + purpose);
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("device buffer for " + purpose + " is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (owner == null) {
                Driver.memFree(ptr, "freeing " + purpose);
            } else {
                giveBack.run();
            }
        }
    }
}
