package dev.wudi.spark;

import dev.wudi.merge.DistributedMerge;
import dev.wudi.merge.InputScan;
import dev.wudi.merge.Merger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;
import picocli.CommandLine;

/**
 * One Spark task of the scan of remote inputs: reads a group of the plan's tensors (the base's and every model's, only
 * those bytes, as {@link PartTask} does) and records what {@code wudi merge}'s check of the inputs looks for in them:
 * NaN and infinity, and which fine-tunes differ from the base ({@link Merger#scanPart}). The driver concludes once over
 * every task's findings ({@link Merger#concludeScan}), before any tensor is merged; so it never reads the inputs' values
 * itself, and needs no copy of them.
 */
final class ScanTask implements Function<TensorGroups.Group, ScanTask.Result> {

    private static final long serialVersionUID = 1L;

    /** What a task found, and the bytes it read from remote storage. */
    record Result(InputScan.Findings findings, long fetchedBytes) implements java.io.Serializable {
    }

    private final String[] args;
    private final RemoteStorage storage;

    ScanTask(String[] args, RemoteStorage storage) {
        this.args = args.clone();
        this.storage = storage;
    }

    @Override
    public Result call(TensorGroups.Group group) throws Exception {
        Path work = Files.createTempDirectory(PartTask.scratch(TaskContext.get()), "wudi-scan-");
        try (RemoteStorage.TaskCopies copies = new RemoteStorage.TaskCopies(storage)) {
            RemoteStorage.TaskCopies.Localised localised = copies.localise(List.of(args), work);
            List<String> line = localised.line();
            SparkMergeCommand cmd = new SparkMergeCommand();
            dev.wudi.cli.MergeCommand.withOptions(new CommandLine(cmd)).parseArgs(line.toArray(String[]::new));
            DistributedMerge merger = new DistributedMerge(cmd.options(), null, null, new Merger.Safety(false, cmd.allowNonFinite(),
                    new dev.wudi.merge.Cancellation()));
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
