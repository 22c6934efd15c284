package dev.wudi.cli;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.bench.MergeBench;
import dev.wudi.solver.AdamConfig;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "End to end WUDI on synthetic task vectors shaped like CLIP ViT-B/32 (12 blocks of 2304x768,"
                + " 768x768, 3072x768, 768x3072) or a 7B decoder layer set (4096x4096 x4, 11008x4096 x2,"
                + " 4096x11008), n tasks, the paper's Adam, on the path a merge takes (the next tensor loaded while one"
                + " solves) after a warm-up: time per tensor and in total, on any device; on a GPU beside the floor"
                + " (the work at the ceilings measured in the same run).")
public final class BenchMergeCommand implements Callable<Integer> {

    @Option(names = "--workload", defaultValue = "clip-vit-b32",
            description = "clip-vit-b32 or llama-7b-layer (default: ${DEFAULT-VALUE}).")
    String workload;

    @Option(names = "--tasks", defaultValue = "8", description = "Task vectors (default: ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--iters", defaultValue = "300", description = "Adam steps (default: ${DEFAULT-VALUE}).")
    int iters;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "fp32", description = "GPU step GEMM: fp32 or tf32 (default: ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: all cores).")
    int threads;

    @Option(names = "--max-tensors", defaultValue = "0",
            description = "Stop after this many tensors (0 = all), for a quick look at a slow device.")
    int maxTensors;

    @Option(names = "--shrink", defaultValue = "1",
            description = "Divide every dimension by N (default: ${DEFAULT-VALUE}), to rehearse on a slow device.")
    int shrink;

    @Mixin
    CeilingOptions ceilings;

    @Override
    public Integer call() {
        MergeBench.Workload w;
        boolean tf32;
        try {
            w = MergeBench.Workload.parse(workload);
            tf32 = dev.wudi.backend.cuda.Precision.parse(precision) == dev.wudi.backend.cuda.Precision.TF32;
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage());
        }
        if (tasks < 1 || iters < 0 || maxTensors < 0 || threads < 0 || shrink < 1) {
            throw new Errors.UsageException("--tasks and --shrink must be >= 1; --iters, --max-tensors, --threads >= 0");
        }
        ceilings.check();
        if (device.contains(",") || device.trim().equalsIgnoreCase("cuda:all")) {
            throw new Errors.UsageException("--device " + device + ": bench merge times one device (give cuda:N or"
                    + " cpu); `wudi merge --device " + device + "` merges on several");
        }
        try (Backend b = Backends.select(device, threads, tf32, System.err::println)) {
            MergeBench.run(System.out, b, w, new MergeBench.Options(tasks, AdamConfig.paper().withIterations(iters), 42,
                    maxTensors, shrink, ceilings.copyBytes(), ceilings.gemm));
        }
        return 0;
    }
}
