package dev.wudi.selftest;

import dev.wudi.backend.cuda.CudaBackends;
import dev.wudi.bench.DeviceTimer;
import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.Cusolver;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.cuda.KernelModule;
import dev.wudi.cuda.ProbeResult;
import dev.wudi.cuda.WudiKernels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * `wudi selftest`: the proof that the CUDA engine works on this machine, in about a minute. In order: the driver, the
 * device, the kernels packed in this jar, cuBLAS and cuSOLVER (where from, which version); every kernel against its
 * host reference ({@link KernelChecks}); the device-to-device copy bandwidth and the SGEMM rate as a sanity check
 * (figures for the eye; `wudi bench kernels` measures them properly); a short WUDI merge on the device against the
 * CPU backend ({@link MergeChecks}). Every line passes or fails; the run passes only if every line does.
 */
public final class SelfTest {

    /** The copy measured for the bandwidth line (device to device). */
    static final long COPY_BYTES = 256L << 20;
    /**
     * The SGEMM measured for the rate line: n^3, 1024 (-Dwudi.selftest.gemm=N: smaller on the emulated driver, whose
     * cuBLAS is a plain C loop).
     */
    static final int GEMM_N = Integer.getInteger("wudi.selftest.gemm", 1024);

    private SelfTest() {
    }

    /** Everything selftest found: the device's description and every check, in order. */
    public record Report(String device, List<Check> checks) {

        public Report {
            checks = List.copyOf(checks);
        }

        /** Every check passed (and there was at least one). */
        public boolean passed() {
            return !checks.isEmpty() && checks.stream().allMatch(Check::passed);
        }
    }

    /**
     * Runs every check on CUDA device {@code ordinal}.
     *
     * @param each told of each check as it completes (for printing as they come)
     */
    public static Report run(int ordinal, Consumer<Check> each) {
        List<Check> checks = new ArrayList<>();
        Consumer<Check> out = c -> {
            checks.add(c);
            each.accept(c);
        };
        ProbeResult probe;
        try {
            probe = CudaBackends.probe();
        } catch (LinkageError e) {
            out.accept(Check.fail("driver", "the GPU probe could not load its native library: " + e));
            return new Report("cuda:" + ordinal, checks);
        }
        if (!probe.driverFound()) {
            out.accept(Check.fail("driver", dev.wudi.backend.Backends.withoutFallback(probe.reason())));
            return new Report("cuda:" + ordinal, checks);
        }
        out.accept(Check.pass("driver", "libcuda.so.1 loaded; " + probe.deviceCount() + " CUDA device"
                + (probe.deviceCount() == 1 ? "" : "s")));
        if (ordinal < 0 || ordinal >= probe.deviceCount()) {
            out.accept(Check.fail("device cuda:" + ordinal, "no such device: this machine has " + probe.deviceCount()));
            return new Report("cuda:" + ordinal, checks);
        }
        out.accept(probe.fatbinPresent() ? Check.pass("kernels in this jar", probe.fatbinStatus())
                : Check.fail("kernels in this jar", probe.fatbinStatus() + " (rebuild where nvcc is on the PATH)"));
        if (!probe.cublasFound()) {
            out.accept(Check.fail("cuBLAS", probe.cublas()));
        }
        String cusolverWhy = Cusolver.unavailableReason();
        if (!probe.available()) {
            out.accept(Check.fail("GPU engine", probe.reason()));
            return new Report("cuda:" + ordinal, checks);
        }
        String device;
        try (CudaDevice dev = CudaDevice.open(ordinal);
             KernelModule module = KernelModule.load(dev);
             CudaStream stream = dev.newStream();
             Cublas blas = Cublas.create(dev, stream)) {
            device = dev.describe();
            out.accept(Check.pass("device cuda:" + ordinal, device));
            int v = blas.version();
            out.accept(Check.pass("cuBLAS", String.format(Locale.ROOT, "%d.%d.%d from %s", v / 10000, (v / 100) % 100,
                    v % 100, Cublas.loadedFrom())));
            if (cusolverWhy == null) {
                try (Cusolver solver = Cusolver.create(dev, stream)) {
                    String version = Cusolver.version();
                    out.accept(Check.pass("cuSOLVER", (version == null ? "version unknown" : version) + " from "
                            + Cusolver.loadedFrom()));
                }
            } else {
                out.accept(Check.pass("cuSOLVER", "absent (optional: the spectral solvers' eigendecompositions then run"
                        + " on the CPU): " + cusolverWhy));
            }
            new KernelChecks(dev, stream, new WudiKernels(module), out).runAll();
            ceilings(dev, stream, blas, out);
        } catch (RuntimeException e) {
            out.accept(Check.fail("device cuda:" + ordinal, e.toString()));
            return new Report("cuda:" + ordinal, checks);
        }
        Path work = null;
        try {
            work = Files.createTempDirectory("wudi-selftest");
            new MergeChecks(ordinal, out).runAll(work, cusolverWhy == null);
        } catch (IOException e) {
            out.accept(Check.fail("merge", "no temporary folder: " + e.getMessage()));
        } finally {
            if (work != null) {
                try {
                    CheckpointWriter.deleteRecursively(work);
                } catch (IOException ignored) {
                    // a temporary folder left behind is not worth failing the proof for
                }
            }
        }
        return new Report(device, checks);
    }

    /** Copy bandwidth and SGEMM rate: figures that must be positive and finite; their size is for the eye. */
    private static void ceilings(CudaDevice dev, CudaStream s, Cublas blas, Consumer<Check> out) {
        try (DeviceTimer timer = new DeviceTimer(dev, s)) {
            try (DeviceBuffer a = dev.allocate(COPY_BYTES, "copy source");
                 DeviceBuffer b = dev.allocate(COPY_BYTES, "copy target")) {
                a.zeroAsync(COPY_BYTES, s);
                double ms = timer.medianMs(1, 5, () -> b.copyFromAsync(a, COPY_BYTES, s));
                double gbs = 2.0 * COPY_BYTES / ms / 1e6;          // bytes read + written
                String detail = String.format(Locale.ROOT, "%.0f GB/s (read + written, %d MiB device to device)", gbs,
                        COPY_BYTES >> 20);
                out.accept(new Check("copy bandwidth", gbs > 0 && Double.isFinite(gbs), detail));
            }
            int n = GEMM_N;
            try (DeviceBuffer a = dev.allocate(4L * n * n, "gemm a"); DeviceBuffer b = dev.allocate(4L * n * n, "gemm b");
                 DeviceBuffer c = dev.allocate(4L * n * n, "gemm c")) {
                a.zeroAsync(4L * n * n, s);
                b.zeroAsync(4L * n * n, s);
                double ms = timer.medianMs(1, 5, () -> blas.rowMajorTimesSquare(a, n, n, b, 1f, 0f, c, "selftest"));
                double gflops = 2.0 * n * n * (double) n / ms / 1e6;
                String detail = String.format(Locale.ROOT, "%.0f GFLOP/s (cuBLAS SGEMM fp32 %d^3)", gflops, n);
                out.accept(new Check("sgemm rate", gflops > 0 && Double.isFinite(gflops), detail));
            }
        } catch (RuntimeException e) {
            out.accept(Check.fail("copy bandwidth and sgemm rate", e.toString()));
        }
    }
}
