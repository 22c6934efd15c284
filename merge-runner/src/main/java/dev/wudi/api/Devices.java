package dev.wudi.api;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.backend.cuda.CudaBackends;
import dev.wudi.cuda.ProbeResult;
import java.util.ArrayList;
import java.util.List;

/**
 * Which devices can run WUDI here, and why not: level 3 of the library. Probing the GPU never loads a native
 * library that could fail for the whole JVM: libcuda.so.1 is looked for first (JNA), then the kernels in this jar and
 * cuBLAS. Thread-safe; each call probes again (a few milliseconds without a GPU, up to a second with one).
 */
public final class Devices {

    private Devices() {
    }

    /**
     * The CPU (always usable) and every CUDA device, or one "cuda" entry saying why there is none.
     *
     * @return the CPU first, then the GPUs (or the reason there are none)
     */
    public static List<DeviceStatus> list() {
        List<DeviceStatus> out = new ArrayList<>();
        try (Backend cpu = Backends.cpu(0)) {
            out.add(new DeviceStatus("cpu", true, cpu.describe(), ""));
        }
        ProbeResult probe;
        try {
            probe = CudaBackends.probe();
        } catch (LinkageError e) {
            out.add(new DeviceStatus("cuda", false, "CUDA GPUs",
                    "the GPU probe could not load its native library (" + e + ")"));
            return out;
        }
        if (!probe.available()) {
            out.add(new DeviceStatus("cuda", false, "CUDA GPUs", Backends.withoutFallback(probe.reason())));
            return out;
        }
        for (int i = 0; i < probe.deviceCount(); i++) {
            out.add(new DeviceStatus("cuda:" + i, true, "CUDA device " + i + "; " + probe.summary(), ""));
        }
        return out;
    }

    /**
     * The device "auto" picks: the first usable GPU, else "cpu".
     *
     * @return "cuda:N" or "cpu"
     */
    public static String auto() {
        for (DeviceStatus d : list()) {
            if (d.usable() && d.name().startsWith("cuda")) {
                return d.name();
            }
        }
        return "cpu";
    }
}
