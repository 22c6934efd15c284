package dev.wudi.cli;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.bench.QualityBench;
import dev.wudi.bench.SpectralCostBench;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "quality", mixinStandardHelpOptions = true,
        description = "Merge with every method and solver, time each merge, and score it: on the built-in synthetic"
                + " tasks (interference, lower is better) and on a fixture folder in the digits6 layout (average"
                + " accuracy with each task's own head). Prints markdown tables; draws score against time.",
        footer = {"", "Example:", "  wudi bench quality --fixture tests/fixtures/digits6 --png docs/quality-digits6.png"})
public final class BenchQualityCommand implements Callable<Integer> {

    @Option(names = "--fixture", paramLabel = "DIR",
            description = "A fixture folder in the digits6 layout (fixture.json, base, task_*, heads_*, tests).")
    Path fixture;

    @Option(names = "--png", paramLabel = "FILE.png",
            description = "Write the chart (the fixture's accuracy, or else the synthetic interference, against time).")
    Path png;

    @Option(names = "--scales", paramLabel = "S,...", split = ",", defaultValue = "1",
            description = "Task-vector scales for the synthetic tasks (default: ${DEFAULT-VALUE}; e.g. 0.1,1,10).")
    double[] scales;

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "1",
            description = "Run every merge N times and report the median time (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--sweep",
            description = "Instead: sweep the spectral default's cutoff fraction and --lr auto's factor (the evidence in docs/quality.md).")
    boolean sweep;

    @Option(names = "--cost", paramLabel = "N,...", split = ",",
            description = "Instead: time a spectral solve against 300 Adam steps on [N, N] weights (e.g. 256,768,1536).")
    int[] cost;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "CPU threads (default: all cores).")
    int threads;

    @Override
    public Integer call() throws Exception {
        for (double s : scales) {
            if (!(s > 0) || Double.isInfinite(s)) {
                throw new Errors.UsageException("--scales must be positive numbers, got " + s);
            }
        }
        if (repeats < 1) {
            throw new Errors.UsageException("--repeats must be >= 1");
        }
        if (png != null) {
            // an earlier chart is replaced; any other file there is refused
            dev.wudi.checkpoint.OutputGuard.check(List.of(new dev.wudi.checkpoint.OutputGuard.Target("--png", png,
                    dev.wudi.checkpoint.OutputGuard.Kind.CHART_PNG)), fixture == null ? List.of() : List.of(fixture),
                    true);
        }
        try (Backend backend = Backends.select("cpu", threads)) {
            if (cost != null) {
                SpectralCostBench.run(System.out, backend, cost);
            } else if (sweep) {
                QualityBench.sweep(System.out, fixture, backend, scales);
            } else {
                QualityBench.run(System.out, fixture, png, backend, scales, repeats);
            }
        }
        return 0;
    }
}
