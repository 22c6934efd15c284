package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every path wudi writes, tried as a hostile or careless user would: reports onto inputs, outputs onto the working
 * directory, --force onto folders of other files, FIFOs and devices. Each refusal is exit 2 with one line, and the
 * whole work folder is byte-for-byte what it was: nothing written, nothing deleted, no input touched.
 */
class HostileOutputsTest {

    @TempDir
    Path tmp;

    private Path base;
    private Path a;
    private Path b;
    private Path fbase;
    private Path fa;
    private Path fb;

    @BeforeEach
    void models() throws IOException {
        Path[] files = TinyModels.baseAndTwo(tmp);
        base = files[0];
        a = files[1];
        b = files[2];
        fbase = TinyModels.writeFolder(tmp.resolve("fbase"), 1, 1, 1);
        fa = TinyModels.writeFolder(tmp.resolve("fa"), 2, 1, 1);
        fb = TinyModels.writeFolder(tmp.resolve("fb"), 3, 1, 1);
    }

    private String[] files(String... more) {
        List<String> args = new ArrayList<>(List.of("merge", "-q", "--base", base.toString(), "--model", a.toString(),
                "--model", b.toString(), "--iters", "5"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    private String[] folders(String... more) {
        List<String> args = new ArrayList<>(List.of("merge", "-q", "--base", fbase.toString(), "--model",
                fa.toString(), "--model", fb.toString(), "--iters", "5"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    /** Every file under dir (links not followed) with a digest of its bytes, or its kind where it is not a file. */
    static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String key = dir.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    m.put(key, "link -> " + Files.readSymbolicLink(p));
                } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    try {
                        m.put(key, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                                .digest(Files.readAllBytes(p))));
                    } catch (java.security.NoSuchAlgorithmException e) {
                        throw new AssertionError(e);
                    }
                } else {
                    m.put(key, Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "folder" : "special");
                }
            }
        }
        return m;
    }

    /** Runs args in process: a usage refusal, one line containing expected, and nothing under tmp changed. */
    private void refused(String expected, String... args) throws IOException {
        refusedIn(tmp, expected, () -> InProcess.run(args));
    }

    private interface Run {
        Cli.Result get() throws Exception;
    }

    private static void refusedIn(Path dir, String expected, Run run) throws IOException {
        Map<String, String> before = snapshot(dir);
        Cli.Result r;
        try {
            r = run.get();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertEquals(2, r.exit(), r.toString());
        List<String> lines = r.err().lines().filter(l -> !l.startsWith("Try '")).toList();
        assertEquals(1, lines.size(), "one line: " + r);
        assertTrue(lines.get(0).contains(expected), "'" + expected + "' in: " + r);
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r);
        assertEquals(before, snapshot(dir), "nothing written, deleted or changed: " + r);
    }

    private static boolean mkfifo(Path p) throws Exception {
        return new ProcessBuilder("mkfifo", p.toString()).start().waitFor() == 0;
    }

    @Test
    void aReportNeverOverwritesAnInput() throws Exception {
        refused("--report " + a + " overlaps the input", files("--out", tmp.resolve("o.safetensors").toString(),
                "--report", a.toString()));
        refused("overlaps the input", folders("--out", tmp.resolve("o").toString(), "--report",
                fa.resolve("report.json").toString()));
        refused("--report-html " + fbase.resolve("config.json") + " overlaps the input", folders("--out",
                tmp.resolve("o").toString(), "--report-html", fbase.resolve("config.json").toString()));
        Path link = Files.createSymbolicLink(tmp.resolve("report-link.json"), b);
        refused("overlaps the input", files("--out", tmp.resolve("o.safetensors").toString(), "--report",
                link.toString(), "--force"));
    }

    @Test
    void neitherTheConfigRunNorAnOutputIsEverOverwrittenByAnother() throws Exception {
        Path cfg = Files.writeString(tmp.resolve("linear.yml"), "merge_method: linear\nbase_model: " + base
                + "\nmodels:\n  - model: " + a + "\n    parameters: {weight: 0.5}\n  - model: " + b
                + "\n    parameters: {weight: 0.5}\n");
        refused("--report " + cfg + " overlaps the input", "merge", "-q", "--config", cfg.toString(), "--out",
                tmp.resolve("o.safetensors").toString(), "--report", cfg.toString());
        refused("--out " + cfg + " overlaps the input", "merge", "-q", "--config", cfg.toString(), "--out",
                cfg.toString(), "--force");
        Path o = tmp.resolve("o.safetensors");
        refused("--report " + o + " is also --out " + o, files("--out", o.toString(), "--report", o.toString()));
        refused("overlaps --out", folders("--out", tmp.resolve("merged").toString(), "--report",
                tmp.resolve("merged/report.json").toString()));
        refused("is also --report", files("--out", o.toString(), "--report", tmp.resolve("r").toString(),
                "--report-html", tmp.resolve("r").toString()));
    }

    @Test
    void theWorkingDirectoryIsNeverTheOutput() throws Exception {
        // in a child JVM whose working directory holds the user's files: nothing there may be lost
        Path home = Files.createDirectories(tmp.resolve("home"));
        Files.writeString(home.resolve("thesis.tex"), "years of work");
        Files.createDirectories(home.resolve(".git"));
        for (String out : List.of("", ".", "..", home.toString(), "./")) {
            String expected = out.isEmpty() ? "--out is empty" : "working directory";
            refusedIn(tmp, expected, () -> Cli.runIn(home, folders("--out", out, "--force")));
            refusedIn(tmp, out.equals("./") ? "names a folder, but the base" : expected,
                    () -> Cli.runIn(home, files("--out", out, "--force")));
        }
        refusedIn(tmp, "--report is empty", () -> Cli.runIn(home, files("--out", "x.safetensors", "--report", "")));
    }

    @Test
    void forceReplacesOnlyAnEarlierOutput() throws Exception {
        Path docs = Files.createDirectories(tmp.resolve("docs"));
        Files.writeString(docs.resolve("notes.txt"), "mine");
        Files.createDirectories(docs.resolve("photos"));
        refused("--out " + docs + " holds notes.txt, photos/, which no wudi output holds", folders("--out",
                docs.toString(), "--force"));
        Path notAModel = Files.writeString(tmp.resolve("notes.safetensors"), "not a checkpoint");
        refused("is not a safetensors file", files("--out", notAModel.toString(), "--force"));
        Path other = Files.writeString(tmp.resolve("other.json"), "{\"mine\": true}\n");
        refused("--report " + other + " already exists; pass --force", files("--out",
                tmp.resolve("o.safetensors").toString(), "--report", other.toString()));
        refused("is not a wudi JSON report", files("--out", tmp.resolve("o.safetensors").toString(), "--report",
                other.toString(), "--force"));
        // an existing file where the output is a folder: refused before any tensor is merged, not at the end
        Path file = Files.writeString(tmp.resolve("merged"), "x");
        refused("is a file of 1 bytes, but a checkpoint folder is written there", folders("--out", file.toString(),
                "--force"));
    }

    @Test
    void earlierOutputsAndReportsAreReplacedWithForce() throws Exception {
        Path out = tmp.resolve("merged");
        Path report = tmp.resolve("r.json");
        Path page = tmp.resolve("r.html");
        String[] run = folders("--out", out.toString(), "--report", report.toString(), "--report-html",
                page.toString());
        assertEquals(0, InProcess.run(run).exit());
        Map<String, String> first = snapshot(out);
        refused("--out " + out + " already exists; pass --force", run);
        String[] again = folders("--out", out.toString(), "--report", report.toString(), "--report-html",
                page.toString(), "--force");
        Cli.Result r = InProcess.run(again);
        assertEquals(0, r.exit(), r.toString());
        Map<String, String> second = snapshot(out);
        first.remove("README.md");                       // the model card quotes the command, --force and all
        second.remove("README.md");
        assertEquals(first, second, "the same merge again: the same bytes");
        Path o = tmp.resolve("o.safetensors");
        assertEquals(0, InProcess.run(files("--out", o.toString())).exit());
        assertEquals(0, InProcess.run(files("--out", o.toString(), "--force")).exit());
    }

    @Test
    void fifosAndDevicesAreNeverWrittenNorRead() throws Exception {
        Path devNull = Path.of("/dev/null");
        assumeTrue(Files.exists(devNull), "/dev/null is needed");
        refused("--out /dev/null is a character device", files("--out", "/dev/null", "--force"));
        Path fifo = tmp.resolve("pipe");
        assumeTrue(mkfifo(fifo), "mkfifo is needed");
        refused("is a FIFO (named pipe)", files("--out", fifo.toString(), "--force"));
        refused("is a FIFO (named pipe)", files("--out", tmp.resolve("o.safetensors").toString(), "--report",
                fifo.toString(), "--force"));
        // read as an input, a FIFO would block until a writer comes: refused before it is opened
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            refused(fifo + " is a FIFO (named pipe), not a checkpoint", "merge", "-q", "--base", base.toString(),
                    "--model", fifo.toString(), "--model", b.toString(), "--out", tmp.resolve("o.safetensors")
                            .toString());
            refused("is a FIFO (named pipe), not a config file", "merge", "-q", "--config", fifo.toString(),
                    "--out", tmp.resolve("o.safetensors").toString());
        });
    }

    @Test
    void theDemoNeverWritesOverAnotherFolder() throws Exception {
        Path mine = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(mine.resolve("base.safetensors"), "my own file of that name");
        Files.writeString(mine.resolve("todo.txt"), "x");
        refused("--keep " + mine + " holds todo.txt", "demo", "--keep", mine.toString());
    }
}
