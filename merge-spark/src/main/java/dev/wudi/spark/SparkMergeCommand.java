package dev.wudi.spark;

import dev.wudi.cli.MergeCommand;
import dev.wudi.merge.MergeOptions;
import dev.wudi.merge.MergeReport;
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
 * and plans the merge as {@code wudi merge} does ({@link Merger#validate}: a bad input fails before any executor
 * works), splits the tensors the method computes into groups of about equal work ({@link TensorGroups}), and runs one
 * Spark task per group ({@link PartTask}: the executor merges its tensors, on its GPU if Spark gave it one, into a
 * part file beside the output); then it writes the output from the parts exactly as {@code wudi merge} would have
 * written it ({@link Merger#withPrecomputed}): same bytes, same index and companions, committed atomically. The
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
            description = "Where executors write their parts (on storage every node sees); default:"
                    + " OUT.wudi-spark-parts beside the output; one merge at a time per folder. Its parts are removed"
                    + " after a successful merge (nothing else in the folder is touched) and kept for --resume after a"
                    + " failed one.")
    Path partsDir;

    /** The options that only say where the work runs: left out when comparing a resumed merge with the first. */
    private static final List<String> PLACEMENT = List.of("--master", "--spark-conf", "--tasks", "--parts-dir",
            "--resume", "--progress", "-q", "--quiet", "--report", "--report-html", "--device", "--threads");

    @Override
    protected MergeReport execute(Merger merger, MergeOptions options) throws Exception {
        // this subcommand's own arguments (the root's command line starts with its name)
        List<String> all = spec.commandLine().getParseResult().originalArgs();
        int at = all.indexOf(spec.name());
        List<String> args = at >= 0 ? all.subList(at + 1, all.size()) : all;
        List<String> fingerprint = fingerprint(args);
        if (options.asAdapter() != null) {
            throw new dev.wudi.merge.OptionException("--as-adapter writes an adapter folder in one process; run it with"
                    + " `wudi merge` (adapters are small: their merge is cheap)");
        }
        // every refusal before any work: the Spark settings, then the inputs (validate)
        SparkConf conf = new SparkConf().setAppName("wudi merge -> " + options.out().getFileName());
        if (master != null) {
            conf.setMaster(master);
        }
        if (sparkConf != null) {
            for (String kv : sparkConf) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new dev.wudi.merge.OptionException("--spark-conf takes KEY=VALUE, not " + kv);
                }
                conf.set(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        if (!conf.contains("spark.master")) {
            throw new dev.wudi.merge.OptionException("no Spark master: give --master local[N] (this machine) or run"
                    + " through spark-submit --master ...");
        }
        if (!conf.get("spark.master").startsWith("local")) {
            // executors parse the same command line in their own working directory
            List<Path> given = new ArrayList<>(options.models());
            given.add(options.out());
            if (options.base() != null) {
                given.add(options.base());
            }
            for (Path p : given) {
                if (!p.isAbsolute()) {
                    throw new dev.wudi.merge.OptionException(p + ": on a cluster give every input and the output"
                            + " as an absolute path on storage every node sees (executors do not share this"
                            + " working directory)");
                }
            }
        }
        List<String> warnings = new ArrayList<>();
        List<Merger.MethodTensor> tensors = merger.validate(warnings);
        Path parts = (partsDir != null ? partsDir
                : options.out().resolveSibling(options.out().getFileName() + ".wudi-spark-parts")).toAbsolutePath()
                .normalize();
        if (!resume()) {
            deleteTree(parts);
        }
        Files.createDirectories(parts);
        Map<String, PartTask.Result> earlier = PartTask.Manifest.read(parts, fingerprint);
        List<Merger.MethodTensor> todo = new ArrayList<>();
        for (Merger.MethodTensor t : tensors) {
            if (!earlier.containsKey(t.name())) {
                todo.add(t);
            }
        }
        Map<String, Path> files = new LinkedHashMap<>();
        Map<String, String> records = new LinkedHashMap<>();
        earlier.forEach((name, r) -> {
            files.put(name, Path.of(r.part()));
            r.tensors().stream().filter(t -> t.name().equals(name)).forEach(t -> records.put(name, t.record()));
        });
        if (!earlier.isEmpty()) {
            say("wudi-spark: --resume: " + earlier.size() + " of " + tensors.size()
                    + " tensors were computed by an earlier run (" + parts + ")");
        }
        if (!todo.isEmpty()) {
            long t0 = System.nanoTime();
            try (JavaSparkContext sc = new JavaSparkContext(conf)) {
                sc.setLogLevel("WARN");
                int n = tasks > 0 ? tasks : 4 * sc.defaultParallelism();
                List<TensorGroups.Group> groups = TensorGroups.balanced(todo, n);
                say("wudi-spark: " + todo.size() + " tensors in " + groups.size() + " tasks on "
                        + sc.master() + " (parts in " + parts + ")");
                List<PartTask.Result> results = sc.parallelize(groups, groups.size())
                        .map(new PartTask(args.toArray(String[]::new), parts.toString(), fingerprint)).collect();
                for (PartTask.Result r : results) {
                    for (Merger.PartTensor t : r.tensors()) {
                        files.put(t.name(), Path.of(r.part()));
                        records.put(t.name(), t.record());
                    }
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
            }
            say(String.format(java.util.Locale.ROOT, "wudi-spark: executors computed %d tensors in %.1f s",
                    todo.size(), (System.nanoTime() - t0) / 1e9));
        }
        if (Boolean.getBoolean("wudi.spark.stopBeforeWriting")) {
            throw new IOException("stopped before writing (wudi.spark.stopBeforeWriting, for tests)");
        }
        MergeReport report = merger.withPrecomputed(new Merger.Precomputed(files, records, true, warnings)).run();
        deleteTree(parts);
        return report;
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

    /**
     * Removes the parts and manifests this command writes (group-*.safetensors, their .done.json and .tmp files) and
     * then the folder if nothing else is left in it: a --parts-dir the user pointed elsewhere loses nothing else.
     */
    private static void deleteTree(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith("group-") && (n.endsWith(".safetensors") || n.endsWith(".done.json")
                        || n.endsWith(".done.json.tmp")) && Files.isRegularFile(p)) {
                    Files.deleteIfExists(p);
                }
            }
        }
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            if (s.findAny().isEmpty()) {
                Files.delete(dir);
            }
        }
    }
}
