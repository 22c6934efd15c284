package dev.wudi.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The `wudi` command. Exit codes: 0 success, 2 usage error, 1 failure (one clear line on stderr for a
 * user mistake; a stack trace only for an internal error or with WUDI_DEBUG=1).
 */
@Command(name = "wudi", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Data-free model merging with WUDI-Merging (arXiv 2503.08099) and classic baselines, streaming"
                + " safetensors checkpoints one tensor at a time.",
        subcommands = {MergeCommand.class, MergekitYamlCommand.class, PlanCommand.class, InspectCommand.class, DemoCommand.class, BenchCommand.class,
                MethodsCommand.class, SelftestCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed (merge, plan, inspect, demo, bench, methods, selftest)");
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit code (for tests). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler(new Errors());
        cl.setParameterExceptionHandler(Errors::usage);
        return cl.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"wudi " + dev.wudi.merge.Version.get()};
        }
    }
}
