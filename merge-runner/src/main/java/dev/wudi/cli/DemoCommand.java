package dev.wudi.cli;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.demo.Demo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Build a small synthetic multi-task set (no download), merge it with task-arithmetic,"
                + " average, ties and wudi, and print each method's interference on every task.")
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--keep", paramLabel = "DIR",
            description = "Write the checkpoints and merges into DIR and keep them (default: a temporary folder, removed).")
    Path keep;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "CPU threads (default: all cores).")
    int threads;

    @Override
    public Integer call() throws Exception {
        if (keep != null) {
            // what an earlier demo wrote is replaced; nothing else is ever there to be overwritten
            dev.wudi.checkpoint.OutputGuard.checkOwnFolder("--keep", keep,
                    n -> n.matches("(base|task\\d+|merged-[a-z0-9-]+)\\.safetensors"));
        }
        Path dir = keep != null ? Files.createDirectories(keep) : Files.createTempDirectory("wudi-demo");
        try (Backend backend = Backends.select("cpu", threads)) {
            Demo.print(Demo.run(Demo.defaultTasks(), dir, backend), System.out);
        } finally {
            if (keep == null) {
                try (var s = Files.walk(dir)) {
                    s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
        if (keep != null) {
            System.out.println("Checkpoints and merges kept in " + keep);
        }
        return 0;
    }
}
