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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "kernels", mixinStandardHelpOptions = true,
        description = "GPU: each CUDA kernel and the per-step GEMM at one or more weight shapes, with GB/s and GFLOP/s"
                + " beside their floors at the device's ceilings measured in the same run (a large device-to-device"
                + " copy, a large cuBLAS sgemm in fp32 and tf32).")
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

    @Mixin
    CeilingOptions ceilings;

    @Override
    public Integer call() {
        if (rows < 1 || cols < 1 || repeats < 1 || ordinal < 0) {
            throw new Errors.UsageException("--rows, --cols and --repeats must be >= 1, --gpu >= 0");
        }
        ceilings.check();
        List<int[]> list = new ArrayList<>();
        if (shapes == null || shapes.isEmpty()) {
            list.add(new int[] {rows, cols});
        } else {
            for (String sh : shapes) {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*([1-9][0-9]{0,8})[xX]([1-9][0-9]{0,8})\\s*")
                        .matcher(sh);
                if (!m.matches()) {
                    throw new Errors.UsageException("--shapes: '" + sh + "' is not ROWSxCOLS with both >= 1 (e.g. 768x3072)");
                }
                list.add(new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))});
            }
        }
        ProbeResult probe = CudaBackends.probe();
        if (!probe.available()) {
            throw new BackendUnavailableException("the kernel bench needs a GPU: " + Backends.withoutFallback(probe.reason()), null);
        }
        KernelBench.run(System.out, ordinal, list, repeats, ceilings.copyBytes(), ceilings.gemm);
        return 0;
    }
}
