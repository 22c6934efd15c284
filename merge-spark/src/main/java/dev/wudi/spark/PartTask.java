package dev.wudi.spark;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.config.GivenOptions;
import dev.wudi.merge.DistributedMerge;
import dev.wudi.merge.Merger;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.SpecText;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkFiles;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.resource.ResourceInformation;

/**
 * One Spark task: computes a group of the method's tensors into a part, exactly as {@code wudi merge} would write them
 * ({@link DistributedMerge#computePart}), and returns their report records. It is given the merge as text
 * ({@link SpecText}) and builds the driver's spec from it, so driver and executors merge with the same options.
 *
 * <p>Inputs on remote storage (hdfs://, s3a://) are not copied whole: the task mirrors their headers, asks the merge
 * which stored tensors its group reads ({@link DistributedMerge#sourcesOf}), and fetches only those
 * ({@link RemoteStorage.TaskCopies}); its part is written locally and then stored in the parts folder.
 *
 * <p>Each attempt writes its own part ({@link PartsStore#partName}): a retried or speculative attempt never touches
 * another's file, and the driver takes the one attempt Spark reports. A completed part is then recorded in a manifest
 * ({@link PartsStore#writeManifest}), so that a killed job's rerun with --resume finds the groups that finished.
 */
final class PartTask implements Function<TensorGroups.Group, PartTask.Result> {

    private static final long serialVersionUID = 1L;

    /**
     * What a task produced: its part (a file name in the parts folder), the records of its tensors, and the bytes it
     * read from remote storage (0 where its inputs are on a shared filesystem).
     */
    record Result(int group, String part, List<DistributedMerge.PartTensor> tensors, long fetchedBytes)
            implements java.io.Serializable {
    }

    private final SpecText merge;
    private final PartsStore parts;
    private final Map<String, String> fingerprint;
    private final String job;

    /**
     * @param merge       the merge as the user gave it (remote paths stay remote: each task copies what it reads)
     * @param fingerprint what the manifests record of the merge ({@link PartsFingerprint})
     * @param job         this job's name in the parts' file names
     */
    PartTask(SpecText merge, PartsStore parts, Map<String, String> fingerprint, String job) {
        this.merge = merge;
        this.parts = parts;
        this.fingerprint = Map.copyOf(fingerprint);
        this.job = job;
    }

    @Override
    public Result call(TensorGroups.Group group) throws Exception {
        TaskContext tc = TaskContext.get();
        long attempt = tc == null ? 0 : tc.taskAttemptId();
        String name = PartsStore.partName(job, group.id(), attempt);
        boolean remote = merge.paths().stream().anyMatch(p -> RemoteStorage.isRemote(p.text()));
        Path work = remote || parts.localDir() == null ? Files.createTempDirectory(scratch(tc), "wudi-task-") : null;
        try (RemoteStorage.TaskCopies copies = new RemoteStorage.TaskCopies(parts.storage())) {
            SpecText local = remote ? copies.localise(merge, work).merge() : merge;
            MergeSpec spec = GivenOptions.builder(local, line -> { }).build();
            Path part = parts.localDir() != null ? parts.localDir().resolve(name) : work.resolve(name);
            List<DistributedMerge.PartTensor> done;
            try (Backend backend = Backends.select(device(tc, spec.device()), spec.threads(), spec.tf32(), l -> { })) {
                DistributedMerge merger = new DistributedMerge(spec, backend, null, Merger.Safety.defaults());
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
