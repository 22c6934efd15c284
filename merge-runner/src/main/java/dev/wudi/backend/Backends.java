package dev.wudi.backend;

import dev.wudi.backend.cpu.CpuBackend;
import dev.wudi.backend.cuda.CudaBackends;
import dev.wudi.cpu.CpuAdamKernel;
import dev.wudi.cuda.ProbeResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Where backends are chosen ({@code --device auto|cpu|cuda[:N]}). Selection order GPU, then CPU: "auto"
 * probes for a usable GPU (driver, device, cuBLAS, kernels in the jar) without risking the JVM, and
 * falls back to the CPU with one line naming the cause and the fix.
 */
public final class Backends {

    private Backends() {
    }

    /** The OpenBLAS backend with this many threads (0 = all cores). */
    public static Backend cpu(int threads) {
        return new CpuBackend(threads);
    }

    /**
     * As {@link #cpu(int)}, and one line to notice when the native Adam pass is missing or would not load
     * (not when the user turned it off): the merge is the same, only slower, and the line says why.
     */
    static Backend cpu(int threads, Consumer<String> notice) {
        CpuBackend cpu = new CpuBackend(threads);
        if (!cpu.nativeAdamPass() && !CpuAdamKernel.offByChoice()) {
            notice.accept("wudi: the CPU's native Adam pass is " + CpuAdamKernel.status() + "; the Java pass runs"
                    + " (same results, slower). Rebuild with cmake and a C compiler on the PATH.");
        }
        return cpu;
    }

    /** As {@link #select(String, int, boolean, Consumer)} with fp32 and fallback notices on stderr. */
    public static Backend select(String device, int threads) {
        return select(device, threads, false, System.err::println);
    }

    /**
     * The backend a --device value names.
     *
     * @param tf32   run the GPU's per-step GEMM on TF32 tensor cores (ignored on the CPU)
     * @param notice receives the one line saying why "auto" fell back to the CPU
     * @throws IllegalArgumentException for an unknown device name or a malformed ordinal
     * @throws BackendUnavailableException when "cuda[:N]" was asked for and the GPU cannot be used (the reason)
     */
    public static Backend select(String device, int threads, boolean tf32, Consumer<String> notice) {
        String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
        if (d.contains(",") || d.equals("cuda:all")) {
            return selectSet(device, d, threads, tf32, notice);
        }
        if (d.equals("cpu")) {
            return cpu(threads, notice);
        }
        if (d.equals("auto")) {
            ProbeResult probe;
            try {
                probe = CudaBackends.probe();
            } catch (LinkageError e) {
                // JNA or JCuda could not load its own native library (no room to extract it, a broken
                // install): "auto" must still merge, on the CPU
                notice.accept("wudi: the GPU probe could not load its native library (" + e + "); running on CPU."
                        + " Pass --device cpu to skip the GPU.");
                return cpu(threads, notice);
            }
            if (!probe.available()) {
                notice.accept("wudi: " + probe.reason());
                return cpu(threads, notice);
            }
            try {
                return CudaBackends.open(0, tf32);
            } catch (RuntimeException e) {
                notice.accept("wudi: GPU 0 could not be opened (" + e.getMessage() + "); running on CPU."
                        + " Pass --device cpu to skip the GPU.");
                return cpu(threads, notice);
            }
        }
        if (d.equals("cuda") || d.startsWith("cuda:")) {
            int ordinal = 0;
            if (d.startsWith("cuda:")) {
                try {
                    ordinal = Integer.parseInt(d.substring(5));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("device '" + device + "': expected cuda:N with N a GPU number");
                }
            }
            try {
                return CudaBackends.open(ordinal, tf32);
            } catch (IllegalStateException e) {
                throw new BackendUnavailableException("device " + d + " cannot be used: " + withoutFallback(e.getMessage()), e);
            }
        }
        throw new IllegalArgumentException("unknown device '" + device + "' (use auto, cpu, cuda, cuda:N, cuda:all or"
                + " a list such as cuda:0,1 or cuda:all,cpu)");
    }

    /**
     * A device list: {@code cuda:all} (every GPU), {@code cuda:0,2,3} (those GPUs), either followed by {@code ,cpu}
     * (the CPU's cores take tensors too). One member only is that member itself.
     */
    private static Backend selectSet(String device, String d, int threads, boolean tf32, Consumer<String> notice) {
        String[] parts = d.split(",", -1);
        boolean withCpu = parts.length > 1 && parts[parts.length - 1].trim().equals("cpu");
        int gpuParts = withCpu ? parts.length - 1 : parts.length;
        String syntax = "device '" + device + "': expected cuda:all, or cuda:N,M,... with GPU numbers, optionally"
                + " followed by ,cpu";
        if (!parts[0].trim().startsWith("cuda:")) {
            throw new IllegalArgumentException(syntax);
        }
        List<Integer> ordinals = new ArrayList<>();
        if (parts[0].trim().equals("cuda:all")) {
            if (gpuParts != 1) {
                throw new IllegalArgumentException(syntax);
            }
            ProbeResult probe = CudaBackends.probe();
            if (!probe.available()) {
                throw new BackendUnavailableException("device cuda:all cannot be used: "
                        + withoutFallback(probe.reason()), null);
            }
            for (int i = 0; i < probe.deviceCount(); i++) {
                ordinals.add(i);
            }
        } else {
            for (int i = 0; i < gpuParts; i++) {
                String p = i == 0 ? parts[0].trim().substring(5) : parts[i].trim();
                try {
                    int n = Integer.parseInt(p);
                    if (ordinals.contains(n)) {
                        throw new IllegalArgumentException("device '" + device + "' names GPU " + n + " twice");
                    }
                    ordinals.add(n);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(syntax);
                }
            }
        }
        List<Backend> members = new ArrayList<>();
        try {
            for (int n : ordinals) {
                try {
                    members.add(CudaBackends.open(n, tf32));
                } catch (IllegalStateException e) {
                    throw new BackendUnavailableException("device cuda:" + n + " cannot be used: "
                            + withoutFallback(e.getMessage()), e);
                }
            }
            if (withCpu) {
                members.add(cpu(threads, notice));
            }
        } catch (RuntimeException e) {
            members.forEach(Backend::close);
            throw e;
        }
        return members.size() == 1 ? members.get(0) : new DeviceSet(members);
    }

    /** The probe's line is worded for "auto" ("cause; running on CPU. fix"); where nothing falls back, drop that. */
    public static String withoutFallback(String probeReason) {
        return String.valueOf(probeReason).replace("; running on CPU.", ".");
    }
}
