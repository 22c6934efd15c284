package dev.wudi.backend;

import java.util.Locale;

/**
 * One tensor's WUDI working set does not fit a device's free memory. The placement moves that tensor to the CPU
 * ({@link Placement#afterDeviceMemory}); the message names the tensor, its shape and the bytes needed versus free.
 */
public final class DeviceMemoryException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final String tensorName;
    private final long bytesNeeded;
    private final long bytesFree;

    public DeviceMemoryException(String tensorName, int rows, int cols, long bytesNeeded, long bytesFree, String device) {
        super(String.format(Locale.ROOT, "tensor %s [%d, %d] needs %s on %s but only %s is free; "
                        + "merge it on the CPU (--device cpu) or free GPU memory",
                tensorName, rows, cols, gib(bytesNeeded), device, gib(bytesFree)));
        this.tensorName = tensorName;
        this.bytesNeeded = bytesNeeded;
        this.bytesFree = bytesFree;
    }

    /** A limit other than free device memory, stated in {@code why}. */
    public DeviceMemoryException(String tensorName, int rows, int cols, long bytesNeeded, String why) {
        super(String.format(Locale.ROOT, "tensor %s [%d, %d] (%s) cannot be merged on the GPU: %s; merge it on the CPU (--device cpu)",
                tensorName, rows, cols, gib(bytesNeeded), why));
        this.tensorName = tensorName;
        this.bytesNeeded = bytesNeeded;
        this.bytesFree = -1;
    }

    public String tensorName() {
        return tensorName;
    }

    public long bytesNeeded() {
        return bytesNeeded;
    }

    /** Free device bytes when the check failed, or -1 if another limit was hit. */
    public long bytesFree() {
        return bytesFree;
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB (%d bytes)", bytes / (1024.0 * 1024 * 1024), bytes);
    }
}
