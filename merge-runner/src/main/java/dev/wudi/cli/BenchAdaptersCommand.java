package dev.wudi.cli;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.bench.AdapterMergeBench;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "adapters", mixinStandardHelpOptions = true,
        description = "Real LoRA adapters merged as --model inputs against the same merge of their dense full"
                + " fine-tunes (base + scaling B A, written to --work), same solver, same run: time of each, ratio,"
                + " and the largest relative difference of the outputs.")
public final class BenchAdaptersCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A PEFT LoRA adapter folder (repeat).")
    List<Path> models;

    @Option(names = "--solver", defaultValue = "spectral",
            description = "spectral, flow, exact or adam (default: ${DEFAULT-VALUE}).")
    String solver;

    @Option(names = "--iters", defaultValue = "300", description = "Adam steps (default: ${DEFAULT-VALUE}).")
    int iters;

    @Option(names = "--work", paramLabel = "DIR", description = "Where the base, dense fine-tunes and outputs go"
            + " (default: a temporary folder, removed afterwards).")
    Path work;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: all cores).")
    int threads;

    @Override
    public Integer call() throws Exception {
        SolverSpec s;
        switch (solver) {
            case "spectral" -> s = SolverSpec.Spectral.defaults();
            case "flow" -> s = new SolverSpec.Flow(Double.NaN);
            case "exact" -> s = new SolverSpec.Exact(0);
            case "adam" -> s = new SolverSpec.Adam(AdamConfig.paper().withIterations(iters));
            default -> throw new Errors.UsageException("--solver must be spectral, flow, exact or adam, not " + solver);
        }
        if (work != null) {
            dev.wudi.checkpoint.OutputGuard.checkOwnFolder("--work", work,
                    n -> n.matches("base\\.safetensors|dense-\\d+\\.safetensors|out-(adapters|dense)\\.safetensors"));
        }
        boolean temporary = work == null;
        Path dir = temporary ? Files.createTempDirectory("wudi-bench-adapters") : work;
        try (Backend b = Backends.cpu(threads)) {
            AdapterMergeBench.run(System.out, b, models, s, dir, threads);
        } finally {
            if (temporary) {
                dev.wudi.checkpoint.CheckpointWriter.deleteRecursively(dir);
            }
        }
        return 0;
    }
}
