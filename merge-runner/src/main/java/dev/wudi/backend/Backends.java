package dev.wudi.backend;

import dev.wudi.backend.cpu.CpuBackend;
import java.util.Locale;

/** Where backends are chosen. Only the CPU backend is built in so far. */
public final class Backends {

    private Backends() {
    }

    /** The OpenBLAS backend with this many threads (0 = all cores). */
    public static Backend cpu(int threads) {
        return new CpuBackend(threads);
    }

    /**
     * The backend a --device value names: "cpu", or "auto" (today always the CPU, as no GPU backend is
     * built in yet).
     *
     * @throws IllegalArgumentException for "cuda..." (not built yet) and for unknown names
     */
    public static Backend select(String device, int threads) {
        String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
        if (d.equals("cpu") || d.equals("auto")) {
            return cpu(threads);
        }
        if (d.startsWith("cuda")) {
            throw new IllegalArgumentException("device '" + device + "': no CUDA backend is built in yet; use --device cpu");
        }
        throw new IllegalArgumentException("unknown device '" + device + "' (use cpu, auto or cuda[:N])");
    }
}
