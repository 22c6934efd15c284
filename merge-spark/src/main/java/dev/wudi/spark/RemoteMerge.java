package dev.wudi.spark;

import dev.wudi.checkpoint.UsageMistakeException;
import dev.wudi.spec.OptionException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.fs.FileStatus;
import picocli.CommandLine;

/**
 * {@code wudi-spark merge} with inputs or output on remote storage (hdfs://, s3a://, ...; {@link RemoteStorage}). The
 * driver mirrors the remote inputs' headers in a local staging folder and runs the same command on those partial
 * copies: it plans from the headers, its executors scan the inputs' values ({@link ScanTask}: the check of
 * {@code wudi merge}, concluded on the driver before anything is merged) and merge the method's tensors
 * ({@link PartTask}), each reading only its tensors; the driver then fetches only the tensors it writes itself (those
 * no executor merged: norms, embeddings, task heads) and writes the output locally, which is uploaded under a
 * temporary name and renamed into place. Every refusal comes before anything is read; the staging folder is removed at
 * the end, whatever the outcome.
 */
final class RemoteMerge {

    /**
     * What the command run on local copies needs to know of the command as given.
     *
     * @param args    the command line as given: what the executors parse, and what --resume compares
     * @param parts   the parts folder
     * @param staging the driver's staging folder
     * @param copies  the driver's partial copies of the remote inputs (headers until it fetches what it writes)
     */
    record Staged(List<String> args, PartsStore parts, Path staging, RemoteStorage.TaskCopies copies) {

        /** Whether some input is remote: then executors scan the inputs, and the driver holds partial copies. */
        boolean remoteInputs() {
            return copies.mirrored() > 0;
        }
    }

    private RemoteMerge() {
    }

    static int run(SparkMergeCommand cmd, List<String> args) throws Exception {
        List<PathArgs.Arg> paths = PathArgs.of(args);
        PathArgs.Arg out = paths.stream().filter(a -> a.option().equals("--out")).reduce((a, b) -> b).orElse(null);
        String outName = out == null ? "plan" : new org.apache.hadoop.fs.Path(out.value()).getName();
        RemoteStorage storage = new RemoteStorage(RemoteStorage.settings(cmd.sparkConf(outName)));
        refuseWhatCannotWork(paths, storage);
        if (out != null && RemoteStorage.isRemote(out.value()) && !cmd.dryRun()) {
            FileStatus st = storage.status(out.value());
            boolean emptyFolder = st != null && st.isDirectory()
                    && storage.fs(st.getPath()).listStatus(st.getPath()).length == 0;
            if (st != null && !emptyFolder) {
                if (cmd.resume()) {
                    say(cmd, "wudi: --resume: " + out.value() + " is complete; nothing to resume");
                    return 0;
                }
                if (!cmd.force()) {
                    throw new UsageMistakeException("--out " + out.value() + " already exists; pass --force to"
                            + " replace it");
                }
            }
        }
        Path staging = cmd.stagingDir != null
                ? Files.createDirectories(cmd.stagingDir).resolve("wudi-spark-" + UUID.randomUUID())
                : Files.createTempDirectory("wudi-spark-");
        Files.createDirectories(staging);
        // the driver reads headers only: its executors scan the inputs' values, and it fetches the tensors it writes
        // itself (those no executor merges) just before writing
        try (RemoteStorage.TaskCopies copies = new RemoteStorage.TaskCopies(storage)) {
            RemoteStorage.TaskCopies.Localised localised = copies.localise(args, staging);
            Map<PathArgs.Arg, String> local = localised.local();
            String partsDir = paths.stream().filter(a -> a.option().equals("--parts-dir")).map(PathArgs.Arg::value)
                    .reduce((a, b) -> b).orElse(out == null ? staging.resolve("parts-unused").toString()
                            : out.value() + ".wudi-spark-parts");
            SparkMergeCommand inner = new SparkMergeCommand();
            inner.staged = new Staged(List.copyOf(args), new PartsStore(partsDir, storage), staging, copies);
            dev.wudi.cli.MergeCommand.withOptions(new CommandLine(inner)).parseArgs(localised.line().toArray(String[]::new));
            // what the merge says and writes names the remote paths, not the copies
            StagedNames named = new StagedNames(localised.names());
            java.io.PrintStream stdout = System.out;
            java.io.PrintStream stderr = System.err;
            System.setOut(named.wrap(stdout));
            System.setErr(named.wrap(stderr));
            int rc;
            try {
                rc = inner.call();
            } catch (Exception e) {
                throw named.apply(e);
            } finally {
                System.out.flush();
                System.err.flush();
                System.setOut(stdout);
                System.setErr(stderr);
            }
            if (rc != 0 || cmd.dryRun()) {
                return rc;
            }
            // the output first: a report is uploaded only beside an output that made it
            List<Map.Entry<PathArgs.Arg, String>> written = new java.util.ArrayList<>(local.entrySet());
            written.sort(java.util.Comparator.comparing(e -> !e.getKey().option().equals("--out")));
            for (Map.Entry<PathArgs.Arg, String> e : written) {
                PathArgs.Arg a = e.getKey();
                if (PathArgs.INPUTS.contains(a.option()) || !Files.exists(Path.of(e.getValue()))) {
                    continue;
                }
                boolean theOutput = a.option().equals("--out");
                Path file = Path.of(e.getValue());
                if (!theOutput) {
                    named.rewrite(file);                        // a report (JSON, HTML)
                } else if (Files.isDirectory(file)) {
                    named.rewrite(file.resolve("README.md"));   // the model card; the weights are never touched
                    Path heads = file.resolve("heads");         // task heads name their model in their metadata
                    if (Files.isDirectory(heads)) {
                        try (java.util.stream.Stream<Path> s = Files.list(heads)) {
                            for (Path h : s.filter(p -> p.toString().endsWith(".safetensors")).toList()) {
                                named.rewriteMetadata(h);
                            }
                        }
                    }
                }
                if (theOutput) {
                    say(cmd, "wudi-spark: uploading the output to " + a.value());
                }
                // the output replaces an existing one only with --force (refused above otherwise); reports always
                storage.publish(file, a.value(), !theOutput || cmd.force());
            }
            return rc;
        } finally {
            SparkMergeCommand.deleteRecursively(staging);
        }
    }

    /** Mistakes that the copies would only hide or make costly, refused before anything is copied. */
    private static void refuseWhatCannotWork(List<PathArgs.Arg> paths, RemoteStorage storage) throws IOException {
        Set<String> inputs = new HashSet<>();
        for (PathArgs.Arg a : paths) {
            if (!RemoteStorage.isRemote(a.value())) {
                continue;
            }
            if (a.option().equals("--config")) {
                throw new OptionException("--config " + a.value() + ": a mergekit config is read on the driver:"
                        + " give it as a local file, and remote checkpoints with --base and --model");
            }
            if (a.option().equals("--staging-dir")) {
                throw new OptionException("--staging-dir is a folder on the driver's local disk, not " + a.value());
            }
            if (PathArgs.INPUTS.contains(a.option())) {
                if (storage.status(a.value()) == null) {
                    throw new NoSuchFileException(a.value());
                }
                if (!inputs.add(storage.qualified(a.value()))) {
                    throw new OptionException(a.option() + " " + a.value() + " is given twice; each fine-tune counts"
                            + " once");
                }
            }
        }
        for (PathArgs.Arg a : paths) {
            if (a.option().equals("--out") && RemoteStorage.isRemote(a.value())) {
                String o = storage.qualified(a.value());
                for (String in : inputs) {
                    if (o.equals(in) || o.startsWith(in + "/") || in.startsWith(o + "/")) {
                        throw new UsageMistakeException("--out " + a.value() + " overlaps the input " + in
                                + "; choose another output path (inputs are never modified)");
                    }
                }
            }
        }
    }

    private static void say(SparkMergeCommand cmd, String line) {
        if (!cmd.quiet()) {
            System.err.println(line);
        }
    }
}
