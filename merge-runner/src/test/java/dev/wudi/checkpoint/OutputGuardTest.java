package dev.wudi.checkpoint;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.wudi.checkpoint.OutputGuard.Kind;
import dev.wudi.checkpoint.OutputGuard.Target;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every rule of the output guard, on real files: what is refused, what --force may replace, and what never. */
class OutputGuardTest {

    @TempDir
    Path tmp;

    private static String refusal(List<Target> targets, List<Path> inputs, boolean force) {
        UsageMistakeException e = assertThrows(UsageMistakeException.class,
                () -> OutputGuard.check(targets, inputs, force));
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    private Path checkpoint(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        try (SafetensorsWriter w = SafetensorsWriter.create(file, List.of(new SafetensorsWriter.TensorSpec("w",
                DType.F32, new long[] {2})), Map.of())) {
            w.writeFloats(new float[] {1, 2}, 0, 2);
            w.finish();
        }
        return file;
    }

    @Test
    void anEmptyPathIsRefused() {
        String m = refusal(List.of(new Target("--out", Path.of(""), Kind.CHECKPOINT_FOLDER)), List.of(), true);
        assertTrue(m.contains("--out is empty"), m);
    }

    @Test
    void theWorkingDirectoryAndEveryFolderAboveItAreRefusedEvenWithForce() {
        Path cwd = Path.of("").toAbsolutePath();
        for (Path p : List.of(Path.of("."), cwd, cwd.getParent(), cwd.getRoot())) {
            String m = refusal(List.of(new Target("--out", p, Kind.CHECKPOINT_FOLDER)), List.of(), true);
            assertTrue(m.contains("working directory") || m.contains("root folder"), m);
        }
    }

    @Test
    void aWrittenPathNeverOverlapsAnInputThroughLinksOrFolders() throws IOException {
        Path in = checkpoint(tmp.resolve("in/model.safetensors"));
        Path cfg = Files.writeString(tmp.resolve("merge.yml"), "merge_method: linear\n");
        Path link = Files.createSymbolicLink(tmp.resolve("link.json"), in);
        List<Path> inputs = List.of(tmp.resolve("in"), cfg);
        for (Target t : List.of(new Target("--report", in, Kind.REPORT_JSON),
                new Target("--report", tmp.resolve("in/report.json"), Kind.REPORT_JSON),
                new Target("--report", link, Kind.REPORT_JSON),
                new Target("--out", cfg, Kind.CHECKPOINT_FILE),
                new Target("--out", tmp, Kind.CHECKPOINT_FOLDER))) {
            String m = refusal(List.of(t), inputs, true);
            assertTrue(m.contains("overlaps the input"), m);
        }
    }

    @Test
    void aLinkedFileInsideAnInputFolderCountsAsAnInput() throws IOException {
        // a Hugging Face cache: the snapshot's files are links into blobs/ elsewhere
        Path blob = checkpoint(tmp.resolve("blobs/abc123"));
        Files.createDirectories(tmp.resolve("snap"));
        Files.createSymbolicLink(tmp.resolve("snap/model.safetensors"), blob);
        String m = refusal(List.of(new Target("--out", blob, Kind.CHECKPOINT_FILE)), List.of(tmp.resolve("snap")),
                true);
        assertTrue(m.contains("overlaps the input"), m);
    }

    @Test
    void writtenPathsNeverOverlapEachOther() {
        Path out = tmp.resolve("merged");
        String same = refusal(List.of(new Target("--out", tmp.resolve("m.safetensors"), Kind.CHECKPOINT_FILE),
                new Target("--report", tmp.resolve("m.safetensors"), Kind.REPORT_JSON)), List.of(), true);
        assertTrue(same.contains("is also --out"), same);
        String inside = refusal(List.of(new Target("--out", out, Kind.CHECKPOINT_FOLDER),
                new Target("--report", out.resolve("report.json"), Kind.REPORT_JSON)), List.of(), true);
        assertTrue(inside.contains("overlaps --out"), inside);
    }

    @Test
    void fifosDevicesAndDanglingLinksAreNeverReplaced() throws Exception {
        Path devNull = Path.of("/dev/null");
        assumeTrue(Files.exists(devNull));
        String dev = refusal(List.of(new Target("--out", devNull, Kind.CHECKPOINT_FILE)), List.of(), true);
        assertTrue(dev.contains("character device"), dev);
        Path fifo = tmp.resolve("pipe");
        assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0, "mkfifo is needed");
        String f = refusal(List.of(new Target("--report", fifo, Kind.REPORT_JSON)), List.of(), true);
        assertTrue(f.contains("FIFO"), f);
        Path dangling = Files.createSymbolicLink(tmp.resolve("dangling"), tmp.resolve("nowhere"));
        String d = refusal(List.of(new Target("--out", dangling, Kind.CHECKPOINT_FILE)), List.of(), true);
        assertTrue(d.contains("does not exist"), d);
        assertTrue(Files.isSymbolicLink(dangling));
    }

    @Test
    void anExistingPathNeedsForce() throws IOException {
        Path out = checkpoint(tmp.resolve("m.safetensors"));
        String m = refusal(List.of(new Target("--out", out, Kind.CHECKPOINT_FILE)), List.of(), false);
        assertTrue(m.contains("already exists; pass --force"), m);
        assertDoesNotThrow(() -> OutputGuard.check(List.of(new Target("--out", out, Kind.CHECKPOINT_FILE)),
                List.of(), true));
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertDoesNotThrow(() -> OutputGuard.check(List.of(new Target("--out", empty, Kind.CHECKPOINT_FOLDER)),
                List.of(), false));
    }

    @Test
    void forceReplacesAFileOnlyWhereItIsAnEarlierOutputOfItsKind() throws IOException {
        Path notes = Files.writeString(tmp.resolve("notes.safetensors"), "my notes");
        String m = refusal(List.of(new Target("--out", notes, Kind.CHECKPOINT_FILE)), List.of(), true);
        assertTrue(m.contains("is not a safetensors file (a file of 8 bytes)"), m);
        Path json = Files.writeString(tmp.resolve("other.json"), "{\"a\": 1}");
        assertTrue(refusal(List.of(new Target("--report", json, Kind.REPORT_JSON)), List.of(), true)
                .contains("not a wudi JSON report"));
        Path report = Files.writeString(tmp.resolve("r.json"), "{\"method\": \"wudi\", \"tensors\": [], \"totals\": {}}");
        assertDoesNotThrow(() -> OutputGuard.check(List.of(new Target("--report", report, Kind.REPORT_JSON)),
                List.of(), true));
        Path page = Files.writeString(tmp.resolve("r.html"), "<!DOCTYPE html>\n<html><head><title>wudi merge report: x"
                + "</title>");
        assertDoesNotThrow(() -> OutputGuard.check(List.of(new Target("--report-html", page, Kind.REPORT_HTML)),
                List.of(), true));
        Path other = Files.writeString(tmp.resolve("index.html"), "<!DOCTYPE html><title>My page</title>");
        assertTrue(refusal(List.of(new Target("--report-html", other, Kind.REPORT_HTML)), List.of(), true)
                .contains("not a wudi HTML report"));
    }

    @Test
    void forceReplacesAFolderOnlyWhereItHoldsWhatACheckpointFolderHolds() throws IOException {
        Path earlier = tmp.resolve("merged");
        checkpoint(earlier.resolve("model-00001-of-00002.safetensors"));
        checkpoint(earlier.resolve("heads/model-1.safetensors"));
        for (String n : List.of("model.safetensors.index.json", "config.json", "README.md", "tokenizer.json",
                "mergekit_config.yml", "LICENSE")) {
            Files.writeString(earlier.resolve(n), "x");
        }
        Target withLicense = new Target("--out", earlier, Kind.CHECKPOINT_FOLDER, Set.of("LICENSE"));
        assertDoesNotThrow(() -> OutputGuard.check(List.of(withLicense), List.of(), true));
        // the same folder where the base has no LICENSE: not plainly an output of this merge
        String m = refusal(List.of(new Target("--out", earlier, Kind.CHECKPOINT_FOLDER)), List.of(), true);
        assertTrue(m.contains("holds LICENSE, which no wudi output holds"), m);

        Path home = tmp.resolve("home");
        Files.createDirectories(home.resolve("photos"));
        Files.writeString(home.resolve("thesis.tex"), "x");
        String h = refusal(List.of(new Target("--out", home, Kind.CHECKPOINT_FOLDER)), List.of(), true);
        assertTrue(h.contains("holds photos/, thesis.tex") && h.contains("--force replaces only an earlier"), h);
        assertTrue(Files.exists(home.resolve("thesis.tex")));

        Path noWeights = tmp.resolve("cfg-only");
        Files.createDirectories(noWeights);
        Files.writeString(noWeights.resolve("config.json"), "{}");
        assertTrue(refusal(List.of(new Target("--out", noWeights, Kind.CHECKPOINT_FOLDER)), List.of(), true)
                .contains("holds no .safetensors weights"));
    }

    @Test
    void theKindMustMatchWhatIsThere() throws IOException {
        Path file = checkpoint(tmp.resolve("m.safetensors"));
        String m = refusal(List.of(new Target("--out", file, Kind.CHECKPOINT_FOLDER)), List.of(), true);
        assertTrue(m.contains("is a file of") && m.contains("give a folder name"), m);
        Path dir = Files.createDirectories(tmp.resolve("d"));
        Files.writeString(dir.resolve("x"), "x");
        assertTrue(refusal(List.of(new Target("--report", dir, Kind.REPORT_JSON)), List.of(), true)
                .contains("is a folder"));
    }

    @Test
    void somethingThatAppearedDuringTheMergeIsNotReplaced() throws IOException {
        Target t = new Target("--out", tmp.resolve("m.safetensors"), Kind.CHECKPOINT_FILE);
        OutputGuard.check(List.of(t), List.of(), false);
        Files.writeString(t.path(), "written by another program meanwhile");
        assertThrows(UsageMistakeException.class, () -> OutputGuard.checkReplaceable(t, false));
        assertThrows(UsageMistakeException.class, () -> OutputGuard.checkReplaceable(t, true));
        assertEquals("written by another program meanwhile", Files.readString(t.path()));
    }

    @Test
    void aCommandsOwnFolderHoldsOnlyItsOwnFiles() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("demo"));
        checkpoint(dir.resolve("base.safetensors"));
        assertDoesNotThrow(() -> OutputGuard.checkOwnFolder("--keep", dir, n -> n.equals("base.safetensors")));
        Files.writeString(dir.resolve("todo.txt"), "x");
        UsageMistakeException e = assertThrows(UsageMistakeException.class,
                () -> OutputGuard.checkOwnFolder("--keep", dir, n -> n.equals("base.safetensors")));
        assertTrue(e.getMessage().contains("holds todo.txt"), e.getMessage());
    }
}
