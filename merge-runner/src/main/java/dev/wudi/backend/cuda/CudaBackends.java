package dev.wudi.backend.cuda;

import dev.wudi.backend.Backend;
import dev.wudi.cuda.CudaProbe;
import dev.wudi.cuda.ProbeResult;

/**
 * The entry points the CLI uses for {@code --device auto|cpu|cuda[:N]} and {@code --precision fp32|tf32}.
 * {@link #probe()} never throws and touches no JCuda class unless libcuda.so.1 exists; {@link #open} is
 * called only when the probe says the GPU is available.
 */
public final class CudaBackends {

    private CudaBackends() {
    }

    /** Whether the GPU engine can run here; if not, {@code reason()} is the one line to print. */
    public static ProbeResult probe() {
        return CudaProbe.probe();
    }

    /**
     * Opens GPU {@code ordinal}.
     *
     * @param tf32 run the per-step GEMM with TF32 tensor cores (faster, not bit-faithful); false = fp32
     * @throws IllegalStateException with the probe's one-line reason if the GPU engine cannot run here
     */
    public static Backend open(int ordinal, boolean tf32) {
        ProbeResult r = probe();
        if (!r.available()) {
            throw new IllegalStateException(r.reason());
        }
        if (ordinal < 0 || ordinal >= r.deviceCount()) {
            throw new IllegalArgumentException("no CUDA device " + ordinal + ": this machine has " + r.deviceCount()
                    + " (use cuda:0" + (r.deviceCount() > 1 ? " .. cuda:" + (r.deviceCount() - 1) : "") + ")");
        }
        return new CudaBackend(ordinal, tf32 ? Precision.TF32 : Precision.FP32);
    }
}
