package dev.wudi.spark;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.DistributedMerge;
import dev.wudi.merge.Merger;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.SparkFiles;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.resource.ResourceInformation;
import picocli.CommandLine;

/**
 * One Spark task: computes a group of the method's tensors into a part, exactly as {@code wudi merge} would write them
 * ({@link Merger#computePart}), and returns their report records. The options come from the command line itself,
 * parsed again here, so driver and executors merge with the same options.
 *
 * <p>Inputs on remote storage (hdfs://, s3a://) are not copied whole: the task mirrors their headers, asks the merge
 * which stored tensors its group reads ({@link Merger#sourcesOf}), and fetches only those
 * ({@link RemoteStorage.TaskCopies}); its part is written locally and then stored in the parts folder.
 *
 * <p>Each attempt writes its own part ({@link PartsStore#partName}): a retried or speculative attempt never touches
 * another's file, and the driver takes the one attempt Spark reports. A completed part is then recorded in a manifest
 * ({@link PartsStore#writeManifest}), so that a killed job's rerun with --resume finds the groups that finished.
 */
final class PartTask implements Function<TensorGroups.Group, PartTask.Result> {

    private static final long serialVersionUID = 1L;

    /** First attempts failed by the test switch wudi.spark.failFirstAttempt (local mode: this JVM's executors). */
    static final java.util.concurrent.atomic.AtomicInteger FAILED_ON_PURPOSE = new java.util.concurrent.atomic.AtomicInteger();

    /**
     * What a task produced: its part (a file name in the parts folder), the records of its tensors, and the bytes it
     * read from remote storage (0 where its inputs are on a shared filesystem).
     */
    record Result(int group, String part, List<DistributedMerge.PartTensor> tensors, long fetchedBytes)
            implements java.io.Serializable {
    }

    private final String[] args;
    private final PartsStore parts;
    private final List<String> fingerprint;

    PartTask(String[] args, PartsStore parts, List<String> fingerprint) {
        this.args = args.clone();
        this.parts = parts;
        this.fingerprint = List.copyOf(fingerprint);
    }

    @Override
    public Result call(TensorGroups.Group group) throws Exception {
        TaskContext tc = TaskContext.get();
        long attempt = tc == null ? 0 : tc.taskAttemptId();
        String name = PartsStore.partName(group.id(), attempt);
        if (tc != null && tc.attemptNumber() == 0 && Boolean.getBoolean("wudi.spark.failFirstAttempt")) {
            // a test switch (local mode: the executors share the driver's JVM): the first attempt fails after it has
            // written part of its output, as a lost executor would
            parts.putBytes(name, "half a part".getBytes(StandardCharsets.UTF_8));
            FAILED_ON_PURPOSE.incrementAndGet();
            throw new IOException("failing the first attempt of group " + group.id() + " (wudi.spark.failFirstAttempt)");
        }
        List<String> line = List.of(args);
        boolean remote = PathArgs.of(line).stream().anyMatch(a -> RemoteStorage.isRemote(a.value()));
        Path work = remote || parts.localDir() == null ? Files.createTempDirectory(scratch(tc), "wudi-task-") : null;
        try (RemoteStorage.TaskCopies copies = new RemoteStorage.TaskCopies(parts.storage())) {
            if (remote) {
                line = copies.localise(line, work).line();
            }
            SparkMergeCommand cmd = new SparkMergeCommand();
            dev.wudi.cli.MergeCommand.withOptions(new CommandLine(cmd)).parseArgs(line.toArray(String[]::new));
            MergeSpec options = cmd.options();
            Path part = parts.localDir() != null ? parts.localDir().resolve(name) : work.resolve(name);
            List<DistributedMerge.PartTensor> done;
            try (Backend backend = Backends.select(device(tc, cmd.device()), cmd.threads(), cmd.tf32(), l -> { })) {
                DistributedMerge merger = new DistributedMerge(options, backend, null, Merger.Safety.defaults());
                if (remote) {
                    copies.fill(merger.sourcesOf(group.names()));
                }
                done = merger.computePart(group.names(), part);
            }
            parts.put(part, name);
            parts.writeManifest(name, fingerprint, done);
            return new Result(group.id(), name, done, copies.fetched());
        } finally {
            if (work != null) {
                SparkMergeCommand.deleteRecursively(work);
            }
        }
    }

    /** This executor's scratch space (Spark's local directories), for a task's copies and its part. */
    static Path scratch(TaskContext tc) {
        if (tc != null) {
            try {
                return Path.of(SparkFiles.getRootDirectory());
            } catch (RuntimeException e) {
                // no SparkEnv: the JVM's temporary folder
            }
        }
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    /**
     * The device for this task: the GPU Spark assigned to it (spark.task.resource.gpu.amount, a discovery script on
     * the executors), else the --device given (auto: a GPU if the executor has one, else its CPU cores).
     */
    static String device(TaskContext tc, String given) {
        if (tc != null) {
            ResourceInformation gpu = tc.resourcesJMap().get("gpu");
            if (gpu != null && gpu.addresses().length > 0) {
                return "cuda:" + gpu.addresses()[0];
            }
        }
        return given;
    }
}
