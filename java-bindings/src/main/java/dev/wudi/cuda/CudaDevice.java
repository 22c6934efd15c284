package dev.wudi.cuda;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;

/**
 * One GPU through its primary context (cuDevicePrimaryCtxRetain, shared with any other CUDA user in the
 * process, unlike cuCtxCreate). Allocations, streams and events come from here. A context is current per
 * thread: call {@link #makeCurrent()} on a thread before it issues work (the backend does so on entry).
 * Open only after {@link CudaProbe#probe()} says the driver is there.
 */
public final class CudaDevice implements AutoCloseable {

    private final int ordinal;
    private final CUdevice device;
    private final CUcontext context;
    private final String name;
    private final int ccMajor;
    private final int ccMinor;
    private final int multiprocessors;
    private final long totalMemory;
    private final int driverVersion;
    private boolean closed;

    private CudaDevice(int ordinal) {
        Driver.init();
        int count = Driver.deviceCount();
        if (ordinal < 0 || ordinal >= count) {
            throw new IllegalArgumentException("no CUDA device " + ordinal + ": this machine has " + count
                    + (count == 1 ? " device (use cuda:0)" : " devices (use cuda:0 .. cuda:" + (count - 1) + ")"));
        }
        this.ordinal = ordinal;
        this.device = Driver.device(ordinal);
        this.name = Driver.deviceName(device);
        this.ccMajor = Driver.attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "compute capability");
        this.ccMinor = Driver.attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "compute capability");
        this.multiprocessors = Driver.attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "multiprocessor count");
        this.totalMemory = Driver.totalMemory(device);
        this.driverVersion = Driver.driverVersion();
        this.context = Driver.retainPrimaryContext(device, ordinal);
    }

    /** Opens device {@code ordinal} and makes its primary context current on the calling thread. */
    public static CudaDevice open(int ordinal) {
        return new CudaDevice(ordinal);
    }

    /** Number of CUDA devices (initialises the driver). */
    public static int count() {
        Driver.init();
        return Driver.deviceCount();
    }

    public void makeCurrent() {
        ensureOpen();
        Driver.setCurrent(context);
    }

    public int ordinal() {
        return ordinal;
    }

    public String name() {
        return name;
    }

    public int computeCapabilityMajor() {
        return ccMajor;
    }

    public int computeCapabilityMinor() {
        return ccMinor;
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    public long totalMemory() {
        return totalMemory;
    }

    /** Driver version as CUDA encodes it: 1000 * major + 10 * minor (13000 = CUDA 13.0). */
    public int driverVersion() {
        return driverVersion;
    }

    /** Free device memory in bytes now (cuMemGetInfo). */
    public long freeMemory() {
        makeCurrent();
        return Driver.memoryInfo()[0];
    }

    /** "NVIDIA H100 80GB HBM3, compute 9.0, 132 SMs, 79.1 GiB, driver 13.0". */
    public String describe() {
        return String.format(java.util.Locale.ROOT, "%s, compute %d.%d, %d SMs, %.1f GiB, driver %d.%d",
                name, ccMajor, ccMinor, multiprocessors, totalMemory / (1024.0 * 1024 * 1024),
                driverVersion / 1000, (driverVersion % 1000) / 10);
    }

    public DeviceBuffer allocate(long bytes, String purpose) {
        makeCurrent();
        return new DeviceBuffer(bytes, purpose);
    }

    /** A new buffer holding a copy of src (at least one element's room, so that an empty array still has an address). */
    public DeviceBuffer upload(float[] src, String purpose) {
        DeviceBuffer b = allocate(4L * Math.max(1, src.length), purpose);
        b.upload(src);
        return b;
    }

    /** As {@link #upload(float[], String)} for 16-bit values. */
    public DeviceBuffer upload(short[] src, String purpose) {
        DeviceBuffer b = allocate(2L * Math.max(1, src.length), purpose);
        b.upload(src);
        return b;
    }

    public PinnedBuffer allocatePinned(long bytes, String purpose) {
        makeCurrent();
        return new PinnedBuffer(bytes, purpose);
    }

    public CudaStream newStream() {
        makeCurrent();
        return new CudaStream();
    }

    public CudaEvent newEvent(boolean timing) {
        makeCurrent();
        return new CudaEvent(timing);
    }

    /** Waits for all work of the context. */
    public void synchronize() {
        makeCurrent();
        Driver.synchronizeContext();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("CUDA device " + ordinal + " is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Driver.releasePrimaryContext(device);
        }
    }
}
