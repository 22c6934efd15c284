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
        nativeMemoryBudget();
        System.exit(execute(args));
    }

    /**
     * JavaCPP refuses native allocations past its maxBytes, by default the heap's maximum (-Xmx, a quarter of the
     * machine unless set), and past a resident size of twice that. The solvers' working sets are native and freed
     * explicitly, not by the GC that budget is meant for, so on a 16 GB machine a 13B-shaped exact solve (4.2 GB of
     * native buffers) would fail although it fits: the CLI budgets the machine's memory instead, unless the user set
     * either property. Runs before any JavaCPP class is loaded.
     */
    public static void nativeMemoryBudget() {
        long machine = -1;
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean os) {
            machine = os.getTotalMemorySize();
        }
        if (machine <= 0) {
            return;
        }
        for (String property : new String[] {"org.bytedeco.javacpp.maxBytes", "org.bytedeco.javacpp.maxPhysicalBytes"}) {
            if (System.getProperty(property) == null && System.getProperty(property.toLowerCase(java.util.Locale.ROOT)) == null) {
                System.setProperty(property, Long.toString(machine));
            }
        }
    }

    /** Runs the CLI and returns the exit code (for tests). */
    public static int execute(String... args) {
        return executeWith(new Main(), args);
    }

    /**
     * Runs a command line of this CLI's kind (another root command, such as wudi-spark's) with its error handling:
     * one line per error, the exit codes of the README.
     */
    public static int executeWith(Object command, String... args) {
        CommandLine cl = MergeArgs.withOptions(new CommandLine(command));
        cl.setExecutionExceptionHandler(new Errors());
        cl.setParameterExceptionHandler(Errors::usage);
        return cl.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"wudi " + dev.wudi.checkpoint.Version.get()};
        }
    }
}
