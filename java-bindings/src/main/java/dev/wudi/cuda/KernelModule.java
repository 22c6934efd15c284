package dev.wudi.cuda;

import java.util.HashMap;
import java.util.Map;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;

/**
 * The fatbin loaded into the current context (cuModuleLoadData picks the SASS for this GPU, or JIT-compiles
 * the compute_90 PTX on a newer one). Functions are looked up once by their extern "C" names.
 */
public final class KernelModule implements AutoCloseable {

    private final CudaDevice device;
    private final CUmodule module;
    private final Map<String, CUfunction> functions = new HashMap<>();
    private boolean closed;

    private KernelModule(CudaDevice device, byte[] image) {
        this.device = device;
        device.makeCurrent();
        this.module = Driver.moduleLoadData(image, "loading the WUDI kernels (" + image.length + "-byte fatbin) on "
                + device.name() + " (compute " + device.computeCapabilityMajor() + "." + device.computeCapabilityMinor() + ")");
    }

    /** Loads the jar's fatbin ({@link FatbinResource}) on {@code device}. */
    public static KernelModule load(CudaDevice device) {
        return new KernelModule(device, FatbinResource.load());
    }

    synchronized CUfunction function(String name) {
        if (closed) {
            throw new IllegalStateException("kernel module is closed");
        }
        return functions.computeIfAbsent(name, n -> Driver.function(module, n));
    }

    CudaDevice device() {
        return device;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            device.makeCurrent();
            Driver.moduleUnload(module);
        }
    }
}
