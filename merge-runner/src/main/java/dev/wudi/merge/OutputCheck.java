package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.OutputGuard;
import dev.wudi.checkpoint.UsageMistakeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Where a merge may write: --out and every other path it writes ({@link Merger.Safety#alsoWritten}), checked by
 * {@link OutputGuard} against every input (the checkpoints, their files, adapter folders, the config, a tokenizer
 * source) before anything is read beyond the headers; plus the output's shape against the base's (a file for a file
 * base, a folder for a folder).
 */
final class OutputCheck {

    private OutputCheck() {
    }

    /** --out as the guard sees it: a checkpoint file or folder, with the base's companion files a folder copies. */
    static OutputGuard.Target outTarget(MergeSpec options, Checkpoint base) throws IOException {
        boolean folder = base.isFolder() || options.asAdapter() != null;
        Set<String> companions = new LinkedHashSet<>();
        for (Path c : base.companionFiles()) {
            companions.add(c.getFileName().toString());
        }
        return new OutputGuard.Target("--out", options.out(), folder ? OutputGuard.Kind.CHECKPOINT_FOLDER
                : OutputGuard.Kind.CHECKPOINT_FILE, companions);
    }

    /**
     * Refuses, before anything is written, an output that would overwrite, delete or lie inside what the merge reads
     * or what the user keeps, or that has the wrong shape for the base.
     *
     * @param modelFiles per model, the files its weights come from
     */
    static void check(MergeSpec options, Checkpoint base, List<Checkpoint> models, List<List<Path>> modelFiles,
                      Merger.Safety safety) throws IOException {
        List<OutputGuard.Target> targets = new ArrayList<>();
        targets.add(outTarget(options, base));
        targets.addAll(safety.alsoWritten());
        OutputGuard.check(targets, inputs(options, base, models, modelFiles, safety), options.force());
        Path out = options.out().toAbsolutePath().normalize();
        String outName = out.getFileName() == null ? "" : out.getFileName().toString();
        if ((base.isFolder() || options.asAdapter() != null) && outName.endsWith(".safetensors")
                && !Files.isDirectory(out)) {
            throw new UsageMistakeException("--out " + options.out() + " is named like a file, but the output is a"
                    + " folder (the base " + base.path() + " is one" + (options.asAdapter() != null
                    ? ", and an adapter is" : "") + "); give a folder name");
        }
    }

    /** Every path the merge reads, as given and as opened. */
    private static List<Path> inputs(MergeSpec options, Checkpoint base, List<Checkpoint> models,
                                     List<List<Path>> modelFiles, Merger.Safety safety) throws IOException {
        List<Path> in = new ArrayList<>();
        if (options.base() != null) {
            in.add(options.base());
        }
        in.add(base.path());
        in.addAll(base.weightFiles());
        for (Path p : options.models()) {
            in.add(p);
            Path[] withLora = Inputs.withLora(p);          // MODEL+LORA: both folders are read
            if (withLora != null) {
                in.addAll(List.of(withLora));
            }
        }
        for (Checkpoint m : models) {
            if (m != null) {
                in.add(m.path());
            }
        }
        modelFiles.forEach(in::addAll);
        if (options.config() != null && options.config().tokenizer() != null
                && !options.config().tokenizer().isBase()) {
            in.add(options.config().tokenizer().folder());
        }
        in.addAll(safety.alsoRead());
        return in;
    }
}
