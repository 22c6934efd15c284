package dev.wudi.cuda;

import org.junit.jupiter.api.Assumptions;

/** Shared device, kernels and stream for the GPU tests; each test first calls {@link #require}. */
final class GpuFixture {

    static CudaDevice device;
    static KernelModule module;
    static WudiKernels kernels;
    static CudaStream stream;

    private GpuFixture() {
    }

    /** Skips the calling test, with the probe's reason, unless a device and the fatbin are here. */
    static synchronized void require(boolean needCublas) {
        ProbeResult r = CudaProbe.probe();
        boolean ok = r.driverFound() && r.deviceCount() > 0 && r.fatbinPresent() && (!needCublas || r.cublasFound());
        Assumptions.assumeTrue(ok, r.available() ? "cuBLAS: " + r.cublas() : r.reason());
        if (device == null) {
            device = CudaDevice.open(0);
            module = KernelModule.load(device);
            kernels = new WudiKernels(module);
            stream = device.newStream();
        }
        device.makeCurrent();
    }

    static synchronized void release() {
        if (device != null) {
            stream.close();
            module.close();
            device.close();
            device = null;
        }
    }
}
