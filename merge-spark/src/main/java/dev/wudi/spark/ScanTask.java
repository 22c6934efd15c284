package dev.wudi.spark;

import dev.wudi.config.GivenOptions;
import dev.wudi.merge.DistributedMerge;
import dev.wudi.merge.InputScan;
import dev.wudi.merge.Merger;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.SpecText;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;

/**
 * One Spark task of the scan of remote inputs: reads a group of the plan's tensors (the base's and every model's, only
 * those bytes, as {@link PartTask} does) and records what {@code wudi merge}'s check of the inputs looks for in them:
 * NaN and infinity, and which fine-tunes differ from the base ({@link DistributedMerge#scanPart}). The driver concludes
 * once over every task's findings ({@link DistributedMerge#concludeScan}), before any tensor is merged; so it never
 * reads the inputs' values itself, and needs no copy of them. Like {@link PartTask}, it is given the merge as text.
 */
final class ScanTask implements Function<TensorGroups.Group, ScanTask.Result> {

    private static final long serialVersionUID = 1L;

    /** What a task found, and the bytes it read from remote storage. */
    record Result(InputScan.Findings findings, long fetchedBytes) implements java.io.Serializable {
    }

    private final SpecText merge;
    private final RemoteStorage storage;

    ScanTask(SpecText merge, RemoteStorage storage) {
        this.merge = merge;
        this.storage = storage;
    }

    @Override
    public Result call(TensorGroups.Group group) throws Exception {
        Path work = Files.createTempDirectory(PartTask.scratch(TaskContext.get()), "wudi-scan-");
        try (RemoteStorage.TaskCopies copies = new RemoteStorage.TaskCopies(storage)) {
            RemoteStorage.TaskCopies.Localised localised = copies.localise(merge, work);
            MergeSpec spec = GivenOptions.builder(localised.merge(), line -> { }).build();
            DistributedMerge merger = new DistributedMerge(spec, null, null, new Merger.Safety(false,
                    spec.allowNonFinite(), new dev.wudi.merge.Cancellation()));
            copies.fill(merger.sourcesOf(group.names()));
            // what it found names the inputs as given, not this task's copies (gone when the driver says it)
            StagedNames named = new StagedNames(localised.names());
            InputScan.Findings f = merger.scanPart(group.names());
            List<InputScan.Found> found = f.found().stream().map(x -> new InputScan.Found(x.order(), x.name(),
                    x.nonFinite().stream().map(named::apply).toList(), x.keptChanged())).toList();
            return new Result(new InputScan.Findings(found, f.differs()), copies.fetched());
        } finally {
            SparkMergeCommand.deleteRecursively(work);
        }
    }
}
