package dev.wudi.spark;

import dev.wudi.cli.Main;
import picocli.CommandLine.Command;

/**
 * {@code wudi-spark}: the merge of {@code wudi merge}, its tensors computed by the executors of a Spark application
 * ({@link SparkMergeCommand}). Run it through {@code spark-submit} on a cluster, or through {@code ./wudi-spark} with
 * {@code --master 'local[N]'} where no Spark is installed.
 */
@Command(name = "wudi-spark", mixinStandardHelpOptions = true, versionProvider = WudiSpark.Version.class,
        subcommands = SparkMergeCommand.class,
        description = "WUDI merges on Apache Spark: the driver checks and plans the merge, the executors compute the"
                + " tensors, the driver writes the output as `wudi merge` would, byte for byte.")
public final class WudiSpark implements Runnable {

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                "a command is needed: merge");
    }

    public static void main(String[] args) {
        Main.nativeMemoryBudget();
        System.exit(execute(args));
    }

    /** Runs wudi-spark and returns the exit code (for tests). */
    public static int execute(String... args) {
        return Main.executeWith(new WudiSpark(), args);
    }

    static final class Version implements picocli.CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"wudi-spark " + dev.wudi.checkpoint.Version.get()};
        }
    }
}
