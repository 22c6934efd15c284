package dev.wudi.spark;

import dev.wudi.cli.MergeCommand;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.DistributedMerge;
import dev.wudi.merge.Merger;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wudi-spark merge}: every option of {@code wudi merge}, and where the work runs. The driver checks the inputs
 * and plans the merge as {@code wudi merge} does ({@link DistributedMerge#validate}: a bad input fails before any executor
 * works), splits the tensors the method computes into groups of about equal work ({@link TensorGroups}), and runs one
 * Spark task per group ({@link PartTask}: the executor merges its tensors, on its GPU if Spark gave it one, into a
 * part file beside the output); then it writes the output from the parts exactly as {@code wudi merge} would have
 * written it ({@link DistributedMerge#writeFromParts}): same bytes, same index and companions, committed atomically. The
 * inputs and the output must lie on storage every node sees (a shared filesystem).
 */
@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = "Merge as `wudi merge` does (every option below is the same), the tensors computed by Spark"
                + " executors. The output is byte-identical to `wudi merge` with the same options.")
public final class SparkMergeCommand extends MergeCommand {

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
    Path stagingDir;

    /**
     * Set on the command that runs on the driver's local copies of remote inputs ({@link RemoteMerge}): the command
     * line as given (what the executors parse), the parts folder, and the driver's staging folder for parts.
     */
    RemoteMerge.Staged staged;

    /** The options that only say where the work runs: left out when comparing a resumed merge with the first. */
    private static final List<String> PLACEMENT = List.of("--master", "--spark-conf", "--tasks", "--parts-dir",
            "--resume", "--progress", "-q", "--quiet", "--report", "--report-html", "--device", "--threads",
            "--staging-dir");

    @Override
    public Integer call() throws Exception {
        if (asAdapter()) {
            throw new dev.wudi.spec.OptionException("--as-adapter writes an adapter folder in one process; run it with"
                    + " `wudi merge` (adapters are small: their merge is cheap)");
        }
        if (staged == null && PathArgs.of(ownArgs()).stream().anyMatch(a -> RemoteStorage.isRemote(a.value()))) {
            return RemoteMerge.run(this, ownArgs());        // runs this command again on local copies
        }
        return super.call();
    }

    /** The reports, and a local --parts-dir: never an input, never inside --out (checked with it, before any work). */
    @Override
    protected List<dev.wudi.checkpoint.OutputGuard.Target> alsoWritten() {
        List<dev.wudi.checkpoint.OutputGuard.Target> t = new ArrayList<>(super.alsoWritten());
        if (partsDir != null && !RemoteStorage.isRemote(partsDir) && staged == null) {
            t.add(new dev.wudi.checkpoint.OutputGuard.Target("--parts-dir", Path.of(partsDir),
                    dev.wudi.checkpoint.OutputGuard.Kind.WORK_FOLDER));
        }
        if (stagingDir != null && staged == null) {     // (a staged run's inputs lie in it, as they should)
            t.add(new dev.wudi.checkpoint.OutputGuard.Target("--staging-dir", stagingDir,
                    dev.wudi.checkpoint.OutputGuard.Kind.WORK_FOLDER));
        }
        return t;
    }

    /** This subcommand's own arguments (the root's command line starts with its name). */
    List<String> ownArgs() {
        List<String> all = commandSpec.commandLine().getParseResult().originalArgs();
        int at = all.indexOf(commandSpec.name());
        return at >= 0 ? all.subList(at + 1, all.size()) : all;
    }

    @Override
    protected MergeReport execute(MergeSpec options, dev.wudi.backend.Backend backend,
                                  dev.wudi.merge.MergeListener listener, Merger.Safety safety) throws Exception {
        DistributedMerge merger = new DistributedMerge(options, backend, listener, safety);
        // the command line as given: on remote storage, this command runs on the driver's local copies
        List<String> args = staged != null ? staged.args() : ownArgs();
        List<String> fingerprint = fingerprint(args);
        // every refusal before any work: the Spark settings, then the inputs (validate)
        SparkConf conf = sparkConf(options.out().getFileName().toString());
        if (!conf.get("spark.master").startsWith("local")) {
            // executors parse the same command line in their own working directory
            List<Path> given = new ArrayList<>(options.models());
            given.add(options.out());
            if (options.base() != null) {
                given.add(options.base());
            }
            for (Path p : given) {
                if (!p.isAbsolute()) {      // (a remote URI was replaced by an absolute local copy)
                    throw new dev.wudi.spec.OptionException(p + ": on a cluster give every input and the output"
                            + " as an absolute path on storage every node sees (executors do not share this"
                            + " working directory)");
                }
            }
        }
        List<String> warnings = new ArrayList<>();
        // inputs on remote storage: the driver plans from their headers and the executors scan their values;
        // on a shared filesystem the driver checks everything itself, as wudi merge does
        boolean scanOnExecutors = staged != null && staged.remoteInputs();
        DistributedMerge.Planned planned = scanOnExecutors ? merger.checkWithoutScan() : null;
        List<DistributedMerge.MethodTensor> tensors = scanOnExecutors ? planned.method() : merger.validate(warnings);
        PartsStore parts = staged != null ? staged.parts() : new PartsStore(partsDir != null ? partsDir
                : options.out().resolveSibling(options.out().getFileName() + ".wudi-spark-parts").toString(),
                new RemoteStorage(RemoteStorage.settings(conf)));
        Map<String, Path> files = new LinkedHashMap<>();
        Map<String, String> records = new LinkedHashMap<>();
        JavaSparkContext sc = null;
        try {
            if (scanOnExecutors) {
                // the check first: a bad input fails before the parts folder is touched
                sc = context(conf);
                warnings.addAll(scanOnExecutors(sc, merger, planned.scanned(), parallelism(sc), args));
            }
            if (!resume()) {
                parts.clear();
            }
            parts.create();
            Map<String, PartTask.Result> earlier = parts.manifests(fingerprint);
            Path partsStaging = staged != null ? staged.staging().resolve("parts") : null;
            List<DistributedMerge.MethodTensor> todo = new ArrayList<>();
            for (DistributedMerge.MethodTensor t : tensors) {
                if (!earlier.containsKey(t.name())) {
                    todo.add(t);
                }
            }
            for (Map.Entry<String, PartTask.Result> e : earlier.entrySet()) {
                files.put(e.getKey(), parts.local(e.getValue().part(), partsStaging));
                e.getValue().tensors().stream().filter(t -> t.name().equals(e.getKey()))
                        .forEach(t -> records.put(e.getKey(), t.record()));
            }
            if (!earlier.isEmpty()) {
                say("wudi-spark: --resume: " + earlier.size() + " of " + tensors.size()
                        + " tensors were computed by an earlier run (" + parts + ")");
            }
            if (!todo.isEmpty()) {
                if (sc == null) {
                    sc = context(conf);
                }
                long t0 = System.nanoTime();
                List<TensorGroups.Group> groups = TensorGroups.balanced(todo, parallelism(sc));
                say("wudi-spark: " + todo.size() + " tensors in " + groups.size() + " tasks on "
                        + sc.master() + " (parts in " + parts + ")");
                List<PartTask.Result> results = run(sc, "wudi-spark: merge", "merged", groups,
                        new PartTask(args.toArray(String[]::new), parts, fingerprint));
                long fetched = 0;
                for (PartTask.Result r : results) {
                    Path local = parts.local(r.part(), partsStaging);
                    for (DistributedMerge.PartTensor t : r.tensors()) {
                        files.put(t.name(), local);
                        records.put(t.name(), t.record());
                    }
                    fetched += r.fetchedBytes();
                }
                if (fetched > 0) {
                    say(String.format(java.util.Locale.ROOT, "wudi-spark: the tasks read %d bytes (%.1f MB) from"
                            + " remote storage: the headers, and the tensors each merged", fetched, fetched / 1e6));
                }
                say(String.format(java.util.Locale.ROOT, "wudi-spark: executors computed %d tensors in %.1f s",
                        todo.size(), (System.nanoTime() - t0) / 1e9));
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            // Scala throws SparkException (a task that failed every attempt) without declaring it
            if (!(e instanceof org.apache.spark.SparkException)) {
                throw e;
            }
            throw new IOException("the Spark job failed: " + rootMessage(e) + "; the parts computed so far are kept"
                    + " in " + parts + ": rerun with --resume to continue", e);
        } finally {
            if (sc != null) {
                sc.close();
            }
        }
        if (Boolean.getBoolean("wudi.spark.stopBeforeWriting")) {
            throw new IOException("stopped before writing (wudi.spark.stopBeforeWriting, for tests)");
        }
        if (scanOnExecutors) {
            // the tensors the driver writes itself: norms, embeddings, what the rest policy keeps, task heads
            staged.copies().fill(merger.sourcesOfAllBut(files.keySet()));
            say(String.format(java.util.Locale.ROOT, "wudi-spark: the driver read %d bytes (%.1f MB) of headers and"
                    + " of the tensors it writes itself", staged.copies().fetched(), staged.copies().fetched() / 1e6));
        }
        MergeReport report = merger.writeFromParts(new Merger.Precomputed(files, records, true, warnings));
        parts.clear();
        return report;
    }

    /**
     * The check of remote inputs, on the executors: the scanned tensors in groups of about equal bytes, each read by
     * one task ({@link ScanTask}); the verdict on the driver, before anything is merged (a NaN fails here).
     */
    private List<String> scanOnExecutors(JavaSparkContext sc, DistributedMerge merger, List<DistributedMerge.MethodTensor> scanned, int n,
                                         List<String> args) throws Exception {
        long t0 = System.nanoTime();
        List<TensorGroups.Group> groups = TensorGroups.balanced(scanned, n);
        say("wudi-spark: checking the inputs: " + scanned.size() + " tensors in " + groups.size() + " tasks on "
                + sc.master());
        RemoteStorage storage = staged.parts().storage();
        List<ScanTask.Result> results = run(sc, "wudi-spark: check", "checked", groups,
                new ScanTask(args.toArray(String[]::new), storage));
        List<dev.wudi.merge.InputScan.Findings> findings = new ArrayList<>();
        long fetched = 0;
        for (ScanTask.Result r : results) {
            findings.add(r.findings());
            fetched += r.fetchedBytes();
        }
        say(String.format(java.util.Locale.ROOT, "wudi-spark: checked the inputs in %.1f s; the tasks read %d bytes"
                + " (%.1f MB) from remote storage", (System.nanoTime() - t0) / 1e9, fetched, fetched / 1e6));
        return merger.concludeScan(findings);
    }

    private static JavaSparkContext context(SparkConf conf) {
        JavaSparkContext sc = new JavaSparkContext(conf);
        sc.setLogLevel("WARN");
        return sc;
    }

    /** --tasks, or 4 per core the cluster offers (TensorGroups makes at most one per tensor). */
    private int parallelism(JavaSparkContext sc) {
        return tasks > 0 ? tasks : 4 * sc.defaultParallelism();
    }

    /** One Spark job over the groups, one task each, its progress said per task (unless --quiet). */
    private <R> List<R> run(JavaSparkContext sc, String job, String doing, List<TensorGroups.Group> groups,
                            org.apache.spark.api.java.function.Function<TensorGroups.Group, R> task) {
        if (!quiet()) {
            sc.sc().addSparkListener(new TaskProgress(job, doing, groups, this::say));
        }
        sc.setJobDescription(job);
        try {
            return sc.parallelize(groups, groups.size()).map(task).collect();
        } finally {
            sc.setJobDescription(null);
        }
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
                    throw new dev.wudi.spec.OptionException("--spark-conf takes KEY=VALUE, not " + kv);
                }
                conf.set(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        if (!conf.contains("spark.master")) {
            throw new dev.wudi.spec.OptionException("no Spark master: give --master local[N] (this machine) or run"
                    + " through spark-submit --master ...");
        }
        return conf;
    }

    /** A progress line of the Spark phase on stderr, unless --quiet (or --progress json). */
    private void say(String line) {
        if (!quiet()) {
            System.err.println(line);
        }
    }

    /** The command line without the options that only place the work (see {@link #PLACEMENT}). */
    static List<String> fingerprint(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            String key = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            if (PLACEMENT.contains(key)) {
                boolean flag = key.equals("--resume") || key.equals("-q") || key.equals("--quiet");
                if (!flag && !a.contains("=")) {
                    i++;                                // its value
                }
                continue;
            }
            out.add(a);
        }
        return out;
    }

    private static String rootMessage(Throwable e) {
        String m = e.getMessage();
        // the executor's exception is in Spark's message as "... : <class>: <message>"; keep its first line
        if (m != null) {
            int at = m.indexOf("Exception: ");
            String tail = at >= 0 ? m.substring(at + "Exception: ".length()) : m;
            return tail.lines().findFirst().orElse(tail);
        }
        return e.getClass().getSimpleName();
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
