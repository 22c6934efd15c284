package dev.wudi.spark;

import dev.wudi.checkpoint.UsageMistakeException;
import dev.wudi.cli.MergeArgs;
import dev.wudi.cli.MergeRun;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionException;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.SpecText;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.fs.FileStatus;

/**
 * {@code wudi-spark merge} with inputs or output on remote storage (hdfs://, s3a://, ...; {@link RemoteStorage}). The
 * driver mirrors the remote inputs' headers in a local staging folder and runs the same merge on those partial
 * copies ({@link SparkDriver}): it plans from the headers, its executors scan the inputs' values ({@link ScanTask}:
 * the check of {@code wudi merge}, concluded on the driver before anything is merged) and merge the method's tensors
 * ({@link PartTask}), each reading only its tensors; the driver then fetches only the tensors it writes itself (those
 * no executor merged: norms, embeddings, task heads) and writes the output locally, which is uploaded under a
 * temporary name and renamed into place; only then are the parts removed (a failed upload keeps them for --resume).
 * Every refusal comes before anything is read; the staging folder is removed at the end, whatever the outcome.
 */
final class RemoteMerge {

    /**
     * What the merge run on local copies needs to know of the merge as given.
     *
     * @param parts   the parts folder
     * @param staging the driver's staging folder
     * @param copies  the driver's partial copies of the remote inputs (headers until it fetches what it writes)
     */
    record Staged(PartsStore parts, Path staging, RemoteStorage.TaskCopies copies) {

        /** Whether some input is remote: then executors scan the inputs, and the driver holds partial copies. */
        boolean remoteInputs() {
            return copies.mirrored() > 0;
        }
    }

    private RemoteMerge() {
    }

    /** Runs the merge given (some of whose paths, or the parts folder, are remote) on local copies. */
    static int run(SparkMergeCommand cmd, SpecText given) throws Exception {
        MergeArgs args = cmd.mergeArgs();
        boolean dryRun = args.isGiven(OptionTable.DRY_RUN);
        String out = given.out();
        RemoteStorage storage = new RemoteStorage(RemoteStorage.settings(cmd.sparkConf(
                new org.apache.hadoop.fs.Path(out).getName())));
        refuseWhatCannotWork(given, cmd.stagingDir(), storage);
        if (RemoteStorage.isRemote(out) && !dryRun) {
            FileStatus st = storage.status(out);
            boolean emptyFolder = st != null && st.isDirectory()
                    && storage.fs(st.getPath()).listStatus(st.getPath()).length == 0;
            if (st != null && !emptyFolder) {
                if (args.isGiven(OptionTable.RESUME)) {
                    say(cmd, "wudi: --resume: " + out + " is complete; nothing to resume");
                    return 0;
                }
                if (!args.isGiven(OptionTable.FORCE)) {
                    throw new UsageMistakeException("--out " + out + " already exists; pass --force to replace it");
                }
            }
        }
        Path staging = cmd.stagingDir() != null
                ? Files.createDirectories(Path.of(cmd.stagingDir())).resolve("wudi-spark-" + UUID.randomUUID())
                : Files.createTempDirectory("wudi-spark-");
        Files.createDirectories(staging);
        // the driver reads headers only: its executors scan the inputs' values, and it fetches the tensors it writes
        // itself (those no executor merges) just before writing
        try (RemoteStorage.TaskCopies copies = new RemoteStorage.TaskCopies(storage)) {
            RemoteStorage.TaskCopies.Localised localised = copies.localise(given, staging);
            String partsDir = cmd.partsDir() != null ? cmd.partsDir() : out.replaceAll("/+$", "") + ".wudi-spark-parts";
            Staged staged = new Staged(new PartsStore(partsDir, storage), staging, copies);
            // what the merge says and writes names the remote paths, not the copies
            StagedNames named = new StagedNames(localised.names());
            java.io.PrintStream stdout = System.out;
            java.io.PrintStream stderr = System.err;
            System.setOut(named.wrap(stdout));
            System.setErr(named.wrap(stderr));
            int rc;
            try {
                MergeSpec spec = args.spec(localised.merge());
                rc = new MergeRun(args, spec).run(new SparkDriver(cmd, given, staged), MergeRun.reports(spec));
            } catch (Exception e) {
                throw named.apply(e);
            } finally {
                System.out.flush();
                System.err.flush();
                System.setOut(stdout);
                System.setErr(stderr);
            }
            if (rc != 0 || dryRun) {
                return rc;
            }
            // the output first: a report is uploaded only beside an output that made it
            List<RemoteStorage.TaskCopies.Copy> written = new java.util.ArrayList<>(localised.copies());
            written.sort(java.util.Comparator.comparing(c -> c.given().option() != OptionTable.OUT));
            for (RemoteStorage.TaskCopies.Copy c : written) {
                SpecText.Place p = c.given();
                boolean theOutput = p.option() == OptionTable.OUT;
                Path file = Path.of(c.local());
                if (!theOutput && p.option() != OptionTable.REPORT && p.option() != OptionTable.REPORT_HTML
                        || !Files.exists(file)) {
                    continue;
                }
                if (!theOutput) {
                    named.rewrite(file);                        // a report (JSON, HTML)
                } else if (Files.isDirectory(file)) {
                    named.rewrite(file.resolve("README.md"));   // the model card; the weights are never touched
                    Path heads = file.resolve("heads");         // task heads name their model in their metadata
                    if (Files.isDirectory(heads)) {
                        try (java.util.stream.Stream<Path> s = Files.list(heads)) {
                            for (Path h : s.filter(x -> x.toString().endsWith(".safetensors")).toList()) {
                                named.rewriteMetadata(h);
                            }
                        }
                    }
                }
                if (theOutput) {
                    say(cmd, "wudi-spark: uploading the output to " + p.text());
                }
                // the output replaces an existing one only with --force (refused above otherwise); reports always
                storage.publish(file, p.text(), !theOutput || args.isGiven(OptionTable.FORCE));
            }
            staged.parts().clear();                             // the output is in place: its parts are done with
            return rc;
        } finally {
            SparkMergeCommand.deleteRecursively(staging);
        }
    }

    /** Mistakes that the copies would only hide or make costly, refused before anything is copied. */
    private static void refuseWhatCannotWork(SpecText given, String stagingDir, RemoteStorage storage)
            throws IOException {
        if (RemoteStorage.isRemote(stagingDir)) {
            throw new OptionException("--staging-dir is a folder on the driver's local disk, not " + stagingDir);
        }
        Set<String> inputs = new HashSet<>();
        for (SpecText.Place p : given.paths()) {
            if (!RemoteStorage.isRemote(p.text())) {
                continue;
            }
            if (p.option() == OptionTable.CONFIG) {
                throw new OptionException("--config " + p.text() + ": a mergekit config is read on the driver:"
                        + " give it as a local file, and remote checkpoints with --base and --model");
            }
            if (p.option() == OptionTable.BASE || p.option() == OptionTable.MODEL) {
                if (storage.status(p.text()) == null) {
                    throw new NoSuchFileException(p.text());
                }
                if (!inputs.add(storage.qualified(p.text()))) {
                    throw new OptionException(p.option().name() + " " + p.text() + " is given twice; each fine-tune"
                            + " counts once");
                }
            }
        }
        if (RemoteStorage.isRemote(given.out())) {
            String o = storage.qualified(given.out());
            for (String in : inputs) {
                if (o.equals(in) || o.startsWith(in + "/") || in.startsWith(o + "/")) {
                    throw new UsageMistakeException("--out " + given.out() + " overlaps the input " + in
                            + "; choose another output path (inputs are never modified)");
                }
            }
        }
    }

    private static void say(SparkMergeCommand cmd, String line) {
        if (!cmd.mergeArgs().quiet()) {
            System.err.println(line);
        }
    }
}
