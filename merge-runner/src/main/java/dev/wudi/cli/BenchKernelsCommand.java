package dev.wudi.cli;

import dev.wudi.backend.BackendUnavailableException;
import dev.wudi.backend.Backends;
import dev.wudi.backend.cuda.CudaBackends;
import dev.wudi.bench.KernelBench;
import dev.wudi.cuda.ProbeResult;
import java.util.ArrayList;
import java.util.List;
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

    @Option(names = "--shapes", split = ",", paramLabel = "RxC",
            description = "Several weight shapes instead of --rows/--cols, e.g. CLIP ViT-B/32's"
                    + " 2304x768,768x768,3072x768,768x3072.")
    List<String> shapes;

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
        List<int[]> list = new ArrayList<>();
        if (shapes == null || shapes.isEmpty()) {
            list.add(new int[] {rows, cols});
        } else {
            for (String sh : shapes) {
                String[] rc = sh.trim().toLowerCase(java.util.Locale.ROOT).split("x");
                try {
                    list.add(new int[] {Integer.parseInt(rc[0]), Integer.parseInt(rc[1])});
                } catch (RuntimeException e) {
                    throw new Errors.UsageException("--shapes: '" + sh + "' is not ROWSxCOLS (e.g. 768x3072)");
                }
                if (rc.length != 2 || list.get(list.size() - 1)[0] < 1 || list.get(list.size() - 1)[1] < 1) {
                    throw new Errors.UsageException("--shapes: '" + sh + "' is not ROWSxCOLS with both >= 1");
                }
            }
        }
        ProbeResult probe = CudaBackends.probe();
        if (!probe.available()) {
            throw new BackendUnavailableException("the kernel bench needs a GPU: " + Backends.withoutFallback(probe.reason()), null);
        }
        KernelBench.run(System.out, ordinal, list, repeats, (long) ceilingCopyMib << 20, ceilingGemm);
        return 0;
    }
}
