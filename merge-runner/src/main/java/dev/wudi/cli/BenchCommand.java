package dev.wudi.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** `wudi bench ...`: benchmarks, run by hand (never by the unit tests); figures go to docs/benchmarks.md. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks. Results are printed as markdown tables for docs/benchmarks.md and docs/quality.md.",
        subcommands = {BenchStepCommand.class, BenchKernelsCommand.class, BenchMergeCommand.class,
                BenchQualityCommand.class, BenchAdaptersCommand.class})
public final class BenchCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a benchmark is needed, e.g. `wudi bench step`");
    }
}
