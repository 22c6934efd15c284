package dev.wudi.spark;

import dev.wudi.backend.Backend;
import dev.wudi.cli.MergeRun;
import dev.wudi.merge.DistributedMerge;
import dev.wudi.merge.InputScan;
import dev.wudi.merge.MergeListener;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.Merger;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionException;
import dev.wudi.spec.SpecText;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The driver of a distributed merge, as {@link MergeRun} runs it: every refusal before any work (the Spark settings,
 * then the inputs: {@link DistributedMerge#validate}, or on remote inputs the plan from their headers and the scan of
 * their values by {@link ScanTask}s), the method's tensors dealt out to {@link PartTask}s in groups of about equal
 * work (only those no earlier run of the same merge finished, under --resume), and the output written from the
 * parts ({@link DistributedMerge#writeFromParts}). The executors are given the merge as text ({@link SpecText}, as the
 * user gave it: remote paths stay remote, each task copies what it reads) and build the same spec from it.
 */
final class SparkDriver implements MergeRun.Computation {

    private final SparkMergeCommand cmd;
    /** The merge as given: what the executors build their spec from, and what --resume compares. */
    private final SpecText given;
    /** Where inputs or output are remote: the driver's staging folder, its copies and the parts folder; else null. */
    private final RemoteMerge.Staged staged;
    /** The parts folder, once the merge has decided it. */
    private PartsStore parts;

    SparkDriver(SparkMergeCommand cmd, SpecText given, RemoteMerge.Staged staged) {
        this.cmd = cmd;
        this.given = given;
        this.staged = staged;
    }

    /** The parts folder of the run (null if it never got that far): removed once the output is in place. */
    PartsStore parts() {
        return parts;
    }

    @Override
    public MergeReport compute(MergeSpec spec, Backend backend, MergeListener listener, Merger.Safety safety)
            throws Exception {
        DistributedMerge merger = new DistributedMerge(spec, backend, listener, safety);
        // every refusal before any work: the Spark settings, then the inputs (validate)
        SparkConf conf = cmd.sparkConf(spec.out().getFileName().toString());
        if (!conf.get("spark.master").startsWith("local")) {
            // executors build the spec in their own working directory
            List<Path> paths = new ArrayList<>(spec.models());
            paths.add(spec.out());
            if (spec.base() != null) {
                paths.add(spec.base());
            }
            for (Path p : paths) {
                if (!p.isAbsolute()) {      // (a remote URI was replaced by an absolute local copy)
                    throw new OptionException(p + ": on a cluster give every input and the output as an absolute"
                            + " path on storage every node sees (executors do not share this working directory)");
                }
            }
        }
        RemoteStorage storage = staged != null ? staged.parts().storage()
                : new RemoteStorage(RemoteStorage.settings(conf));
        List<String> warnings = new ArrayList<>();
        // inputs on remote storage: the driver plans from their headers and the executors scan their values;
        // on a shared filesystem the driver checks everything itself, as wudi merge does
        boolean scanOnExecutors = staged != null && staged.remoteInputs();
        DistributedMerge.Planned planned = scanOnExecutors ? merger.checkWithoutScan() : null;
        List<DistributedMerge.MethodTensor> tensors = scanOnExecutors ? planned.method() : merger.validate(warnings);
        Map<String, String> fingerprint = PartsFingerprint.of(spec, given, storage);
        parts = staged != null ? staged.parts() : new PartsStore(cmd.partsDir() != null ? cmd.partsDir()
                : spec.out().resolveSibling(spec.out().getFileName() + ".wudi-spark-parts").toString(), storage);
        Map<String, Path> files = new LinkedHashMap<>();
        Map<String, String> records = new LinkedHashMap<>();
        JavaSparkContext sc = null;
        try {
            if (scanOnExecutors) {
                // the check first: a bad input fails before the parts folder is touched
                sc = context(conf);
                warnings.addAll(scanOnExecutors(sc, merger, planned.scanned(), parallelism(sc), storage));
            }
            if (!spec.resume()) {
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
                cmd.say("wudi-spark: --resume: " + earlier.size() + " of " + tensors.size()
                        + " tensors were computed by an earlier run (" + parts + ")");
            }
            if (!todo.isEmpty()) {
                if (sc == null) {
                    sc = context(conf);
                }
                long t0 = System.nanoTime();
                List<TensorGroups.Group> groups = TensorGroups.balanced(todo, parallelism(sc));
                cmd.say("wudi-spark: " + todo.size() + " tensors in " + groups.size() + " tasks on "
                        + sc.master() + " (parts in " + parts + ")");
                // a name of its own for this job's parts: an earlier run's, kept for --resume, are never overwritten
                String job = UUID.randomUUID().toString().substring(0, 8);
                List<PartTask.Result> results = run(sc, "wudi-spark: merge", "merged", groups,
                        new PartTask(given, parts, fingerprint, job));
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
                    cmd.say(String.format(Locale.ROOT, "wudi-spark: the tasks read %d bytes (%.1f MB) from"
                            + " remote storage: the headers, and the tensors each merged", fetched, fetched / 1e6));
                }
                cmd.say(String.format(Locale.ROOT, "wudi-spark: executors computed %d tensors in %.1f s",
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
        if (scanOnExecutors) {
            // the tensors the driver writes itself: norms, embeddings, what the rest policy keeps, task heads
            staged.copies().fill(merger.sourcesOfAllBut(files.keySet()));
            cmd.say(String.format(Locale.ROOT, "wudi-spark: the driver read %d bytes (%.1f MB) of headers and of the"
                    + " tensors it writes itself", staged.copies().fetched(), staged.copies().fetched() / 1e6));
        }
        return merger.writeFromParts(new Merger.Precomputed(files, records, true, warnings));
    }

    /**
     * The check of remote inputs, on the executors: the scanned tensors in groups of about equal bytes, each read by
     * one task ({@link ScanTask}); the verdict on the driver, before anything is merged (a NaN fails here).
     */
    private List<String> scanOnExecutors(JavaSparkContext sc, DistributedMerge merger,
                                         List<DistributedMerge.MethodTensor> scanned, int n, RemoteStorage storage)
            throws Exception {
        long t0 = System.nanoTime();
        List<TensorGroups.Group> groups = TensorGroups.balanced(scanned, n);
        cmd.say("wudi-spark: checking the inputs: " + scanned.size() + " tensors in " + groups.size() + " tasks on "
                + sc.master());
        List<ScanTask.Result> results = run(sc, "wudi-spark: check", "checked", groups, new ScanTask(given, storage));
        List<InputScan.Findings> findings = new ArrayList<>();
        long fetched = 0;
        for (ScanTask.Result r : results) {
            findings.add(r.findings());
            fetched += r.fetchedBytes();
        }
        cmd.say(String.format(Locale.ROOT, "wudi-spark: checked the inputs in %.1f s; the tasks read %d bytes"
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
        return cmd.tasks() > 0 ? cmd.tasks() : 4 * sc.defaultParallelism();
    }

    /** One Spark job over the groups, one task each, its progress said per task (unless --quiet). */
    private <R> List<R> run(JavaSparkContext sc, String job, String doing, List<TensorGroups.Group> groups,
                            org.apache.spark.api.java.function.Function<TensorGroups.Group, R> task) {
        if (!cmd.mergeArgs().quiet()) {
            sc.sc().addSparkListener(new TaskProgress(job, doing, groups, cmd::say));
        }
        sc.setJobDescription(job);
        try {
            return sc.parallelize(groups, groups.size()).map(task).collect();
        } finally {
            sc.setJobDescription(null);
        }
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
}
