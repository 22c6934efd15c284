package dev.wudi.cli;

import dev.wudi.backend.BackendUnavailableException;
import dev.wudi.backend.Backends;
import dev.wudi.backend.cuda.CudaBackends;
import dev.wudi.bench.KernelBench;
import dev.wudi.cuda.ProbeResult;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "kernels", mixinStandardHelpOptions = true,
        description = "GPU: each CUDA kernel and the per-step GEMM at one weight shape, with GB/s and GFLOP/s against"
                + " the device's ceilings measured in the same run (a large device-to-device copy, a large cuBLAS"
                + " sgemm in fp32 and tf32).")
public final class BenchKernelsCommand implements Callable<Integer> {

    @Option(names = "--gpu", defaultValue = "0", description = "CUDA device number (default: ${DEFAULT-VALUE}).")
    int ordinal;

    @Option(names = "--rows", defaultValue = "4096", description = "Weight rows (out) (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--cols", defaultValue = "4096", description = "Weight columns (in) (default: ${DEFAULT-VALUE}).")
    int cols;

    @Option(names = "--repeats", defaultValue = "20", description = "Timed repeats per kernel (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--ceiling-copy-mib", defaultValue = "1024",
            description = "Size of the device-to-device copy that measures the bandwidth ceiling (default: ${DEFAULT-VALUE};"
                    + " smaller understates it).")
    int ceilingCopyMib;

    @Option(names = "--ceiling-gemm", defaultValue = "8192",
            description = "n of the n^3 SGEMM that measures the compute ceiling (default: ${DEFAULT-VALUE}; smaller"
                    + " understates it).")
    int ceilingGemm;

    @Override
    public Integer call() {
        if (rows < 1 || cols < 1 || repeats < 1 || ordinal < 0 || ceilingCopyMib < 1 || ceilingGemm < 1) {
            throw new Errors.UsageException("--rows, --cols, --repeats, --ceiling-copy-mib and --ceiling-gemm must be"
                    + " >= 1, --gpu >= 0");
        }
        ProbeResult probe = CudaBackends.probe();
        if (!probe.available()) {
            throw new BackendUnavailableException("the kernel bench needs a GPU: " + Backends.withoutFallback(probe.reason()), null);
        }
        KernelBench.run(System.out, ordinal, rows, cols, repeats, (long) ceilingCopyMib << 20, ceilingGemm);
        return 0;
    }
}
