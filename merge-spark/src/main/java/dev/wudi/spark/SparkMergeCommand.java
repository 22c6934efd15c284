package dev.wudi.spark;

import dev.wudi.checkpoint.OutputGuard;
import dev.wudi.cli.MergeArgs;
import dev.wudi.cli.MergeRun;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionException;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.SpecText;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wudi-spark merge}: every option of {@code wudi merge} ({@link MergeArgs}), and where the work runs. The run
 * is {@code wudi merge}'s ({@link MergeRun}: progress, signals, reports) with a Spark application computing the
 * merge ({@link SparkDriver}): the driver checks the inputs and plans the merge as {@code wudi merge} does, splits the
 * tensors the method computes into groups of about equal work ({@link TensorGroups}), runs one Spark task per group
 * ({@link PartTask}: the executor merges its tensors, on its GPU if Spark gave it one, into a part file), and writes
 * the output from the parts exactly as {@code wudi merge} would have written it: same bytes, same index and
 * companions, committed atomically. The inputs and the output lie on storage every node sees: a shared filesystem,
 * or remote storage ({@link RemoteMerge}).
 */
@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = "Merge as `wudi merge` does (every option below is the same), the tensors computed by Spark"
                + " executors. The output is byte-identical to `wudi merge` with the same options.")
public final class SparkMergeCommand implements Callable<Integer>, MergeArgs.Holder {

    private final MergeArgs args = new MergeArgs();

    @Option(names = "--master", paramLabel = "URL",
            description = "Spark master: local[N] (this machine, N cores, no Spark installation needed), spark://...,"
                    + " yarn, k8s://...; default: the one spark-submit gives.")
    String master;

    @Option(names = "--spark-conf", paramLabel = "KEY=VALUE",
            description = "A Spark setting, repeatable: e.g. spark.executor.resource.gpu.amount=1 with"
                    + " spark.task.resource.gpu.amount=1 to give each task a GPU.")
    List<String> sparkConf;

    @Option(names = "--tasks", paramLabel = "N", defaultValue = "0",
            description = "Spark tasks (groups of tensors of about equal work); default: 4 per core the cluster"
                    + " offers, at most one per tensor.")
    int tasks;

    @Option(names = "--parts-dir", paramLabel = "DIR",
            description = "Where executors write their parts (on storage every node sees: a shared path, or hdfs://,"
                    + " s3a://, ...); default: OUT.wudi-spark-parts beside the output; one merge at a time per folder."
                    + " Its parts are removed after a successful merge (nothing else in the folder is touched) and kept"
                    + " for --resume after a failed one.")
    String partsDir;

    @Option(names = "--staging-dir", paramLabel = "DIR",
            description = "With inputs or output on remote storage (hdfs://, s3a://, ... through Hadoop's"
                    + " FileSystem): the driver's local folder for its partial copies of the inputs (headers, and the"
                    + " tensors no executor merges), the parts and the output before its upload; it needs about the"
                    + " output's size twice. Default: a new folder in java.io.tmpdir. Removed at the end.")
    String stagingDir;

    @Override
    public MergeArgs mergeArgs() {
        return args;
    }

    @Override
    public Integer call() throws Exception {
        if (args.isGiven(OptionTable.AS_ADAPTER)) {
            throw new OptionException("--as-adapter writes an adapter folder in one process; run it with"
                    + " `wudi merge` (adapters are small: their merge is cheap)");
        }
        SpecText given = args.text();
        if (given.paths().stream().anyMatch(p -> RemoteStorage.isRemote(p.text()))
                || RemoteStorage.isRemote(partsDir) || RemoteStorage.isRemote(stagingDir)) {
            return RemoteMerge.run(this, given);            // the same run, on local copies
        }
        MergeSpec spec = args.spec(given);
        SparkDriver driver = new SparkDriver(this, given, null);
        int rc = new MergeRun(args, spec).run(driver, alsoWritten(spec));
        if (rc == 0 && driver.parts() != null) {
            driver.parts().clear();                      // kept for --resume after anything failed
        }
        return rc;
    }

    /** The reports, and a local --parts-dir and --staging-dir: never an input, never inside --out. */
    private List<OutputGuard.Target> alsoWritten(MergeSpec spec) {
        List<OutputGuard.Target> t = new ArrayList<>(MergeRun.reports(spec));
        if (partsDir != null) {
            t.add(new OutputGuard.Target("--parts-dir", Path.of(partsDir), OutputGuard.Kind.WORK_FOLDER));
        }
        if (stagingDir != null) {
            t.add(new OutputGuard.Target("--staging-dir", Path.of(stagingDir), OutputGuard.Kind.WORK_FOLDER));
        }
        return t;
    }

    /** The Spark configuration: spark-submit's, with --master and --spark-conf over it; refused if it has no master. */
    SparkConf sparkConf(String outName) {
        SparkConf conf = new SparkConf().setAppName("wudi merge -> " + outName);
        if (master != null) {
            conf.setMaster(master);
        }
        if (sparkConf != null) {
            for (String kv : sparkConf) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new OptionException("--spark-conf takes KEY=VALUE, not " + kv);
                }
                conf.set(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        if (!conf.contains("spark.master")) {
            throw new OptionException("no Spark master: give --master local[N] (this machine) or run"
                    + " through spark-submit --master ...");
        }
        return conf;
    }

    /** --tasks as given (0: 4 per core the cluster offers). */
    int tasks() {
        return tasks;
    }

    /** --parts-dir as given, or null. */
    String partsDir() {
        return partsDir;
    }

    /** --staging-dir as given, or null. */
    String stagingDir() {
        return stagingDir;
    }

    /** A progress line of the Spark phase on stderr, unless --quiet (or --progress json). */
    void say(String line) {
        if (!args.quiet()) {
            System.err.println(line);
        }
    }

    /** Deletes a local folder and everything in it (a task's or the driver's own scratch folder). */
    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (java.util.stream.Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                dev.wudi.format.PartialCopies.forget(p);
                Files.deleteIfExists(p);
            }
        }
    }
}
