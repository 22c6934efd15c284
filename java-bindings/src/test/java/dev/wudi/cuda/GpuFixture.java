package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.fail;

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

    /** llm.c style: bit-exact comparison that names the first mismatches with index and both values. */
    static void assertSameBits(float[] want, float[] got, String what) {
        StringBuilder bad = new StringBuilder();
        int count = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
                if (count++ < 5) {
                    bad.append(String.format("%n  %s[%d]: reference %s (0x%08x) kernel %s (0x%08x)", what, i, want[i],
                            Float.floatToRawIntBits(want[i]), got[i], Float.floatToRawIntBits(got[i])));
                }
            }
        }
        if (count > 0) {
            fail(count + " of " + want.length + " elements of " + what + " differ:" + bad);
        }
    }

    static void assertSameBits(short[] want, short[] got, String what) {
        StringBuilder bad = new StringBuilder();
        int count = 0;
        for (int i = 0; i < want.length; i++) {
            if (want[i] != got[i]) {
                if (count++ < 5) {
                    bad.append(String.format("%n  %s[%d]: reference 0x%04x kernel 0x%04x", what, i, want[i] & 0xffff, got[i] & 0xffff));
                }
            }
        }
        if (count > 0) {
            fail(count + " of " + want.length + " elements of " + what + " differ:" + bad);
        }
    }

    static void assertClose(double want, double got, double rtol, String what) {
        if (!(Math.abs(want - got) <= rtol * Math.abs(want) + 1e-300)) {
            fail(what + ": reference " + want + " kernel " + got + " (relative error " + Math.abs(want - got) / Math.abs(want) + ")");
        }
    }
}
