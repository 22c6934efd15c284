package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI in a child JVM, stopped the hard ways: SIGKILL mid-merge then --resume (byte-identical to an
 * uninterrupted run), SIGTERM and SIGINT (one line, exit 143 / 130, partial kept for --resume), and a
 * full disk simulated by `ulimit -f` (one line naming the file and tensor, exit 1, the completed tensors kept
 * for --resume).
 */
class InterruptionTest {

    static final int TENSORS = 24;
    static final int DIM = 96;

    @TempDir
    static Path dir;

    static Path base;
    static Path a;
    static Path b;
    /** The uninterrupted merge every resumed one must equal byte for byte. */
    static byte[] reference;

    private static Path write(String name, long seed) throws IOException {
        Path p = dir.resolve(name + ".safetensors");
        List<TensorSpec> specs = new ArrayList<>();
        for (int t = 0; t < TENSORS; t++) {
            specs.add(new TensorSpec("blocks." + t + ".attn.weight", DType.F32, new long[] {DIM, DIM}));
        }
        float[] v = new float[DIM * DIM];
        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of())) {
            for (int t = 0; t < TENSORS; t++) {
                Random base = new Random(t);
                Random task = new Random(seed * 1000 + t);
                for (int j = 0; j < v.length; j++) {
                    v[j] = (float) (base.nextGaussian() * 0.05 + (seed == 0 ? 0 : task.nextGaussian() * 1e-2));
                }
                w.writeFloats(v, 0, v.length);
            }
            w.finish();
        }
        return p;
    }

    /**
     * WUDI at 300 steps on one thread: slow enough (~0.1 s a tensor) to be stopped midway; with another --method in
     * {@code more}, without WUDI's --lr (which that method would refuse).
     */
    private static String[] mergeArgs(Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("merge", "--base", base.toString(), "--model", a.toString(),
                "--model", b.toString(), "--out", out.toString(), "--threads", "1", "--device", "cpu"));
        if (!List.of(more).contains("--method")) {
            args.addAll(List.of("--lr", "1e-3"));
        }
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @BeforeAll
    static void models() throws Exception {
        base = write("base", 0);
        a = write("a", 1);
        b = write("b", 2);
        Path whole = dir.resolve("whole.safetensors");
        Cli.Result r = Cli.run(mergeArgs(whole, "--quiet"));
        assertEquals(0, r.exit(), r.toString());
        reference = Files.readAllBytes(whole);
    }

    private static Path journal(Path out) {
        return out.resolveSibling("." + out.getFileName() + ".wudi-journal");
    }

    private static Path partial(Path out) {
        return out.resolveSibling("." + out.getFileName() + ".wudi-partial");
    }

    /** Completed tensors in the journal (its lines less the fingerprint line). */
    private static int completed(Path out) throws IOException {
        try {
            String s = Files.readString(journal(out), StandardCharsets.UTF_8);
            return (int) s.chars().filter(c -> c == '\n').count() - 1;
        } catch (java.nio.file.NoSuchFileException e) {
            return -1;
        }
    }

    /** Waits until the journal records at least n tensors; fails if the process ends first. */
    private static void awaitCompleted(Process p, Path out, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (completed(out) < n) {
            assertTrue(p.isAlive(), "the merge ended before " + n + " tensors were journaled");
            assertTrue(System.nanoTime() < deadline, "no progress in 120 s");
            Thread.sleep(10);
        }
    }

    private static String stderr(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.UTF_8);
    }

    private static List<String> leftovers() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".wudi-")).toList();
        }
    }

    @Test
    void killedWithSigkillMidwayThenResumedIsByteIdentical() throws Exception {
        Path out = dir.resolve("killed.safetensors");
        Path err = dir.resolve("killed.err");
        Process p = Cli.start(List.of(), List.of(), dir.resolve("killed.out"), err, mergeArgs(out));
        awaitCompleted(p, out, 3);
        p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        int done = completed(out);
        assertTrue(done >= 3 && done < TENSORS, done + " tensors journaled at the kill");
        assertFalse(Files.exists(out), "no output before the merge completes");
        assertTrue(Files.exists(partial(out)));

        Cli.Result r = Cli.run(mergeArgs(out, "--resume"));
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("resuming") && r.err().contains(done + " of " + TENSORS), r.toString());
        assertArrayEquals(reference, Files.readAllBytes(out), "resumed output equals the uninterrupted one");
        assertFalse(Files.exists(partial(out)) || Files.exists(journal(out)));
    }

    @Test
    void sigtermAndSigintStopCleanlyAndKeepAResumablePartial() throws Exception {
        Path out = dir.resolve("signalled.safetensors");
        Path err = dir.resolve("term.err");
        Process p = Cli.start(List.of(), List.of(), dir.resolve("term.out"), err, mergeArgs(out));
        awaitCompleted(p, out, 2);
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(143, p.exitValue(), stderr(err));
        String e = stderr(err);
        assertTrue(e.contains("wudi: interrupted") && e.contains("--resume") && e.contains(partial(out).toString()), e);
        assertFalse(e.contains("\tat "), "no stack trace: " + e);
        int afterTerm = completed(out);
        assertTrue(afterTerm >= 2);

        Path err2 = dir.resolve("int.err");
        Process q = Cli.start(List.of(), List.of(), dir.resolve("int.out"), err2, mergeArgs(out, "--resume"));
        awaitCompleted(q, out, afterTerm + 2);
        Process kill = new ProcessBuilder("kill", "-INT", Long.toString(q.pid())).start();
        assertEquals(0, kill.waitFor());
        assertTrue(q.waitFor(60, TimeUnit.SECONDS));
        assertEquals(130, q.exitValue(), stderr(err2));
        assertTrue(stderr(err2).contains("wudi: interrupted"), stderr(err2));

        Cli.Result r = Cli.run(mergeArgs(out, "--resume"));
        assertEquals(0, r.exit(), r.toString());
        assertArrayEquals(reference, Files.readAllBytes(out), "twice interrupted, resumed output still identical");

        // without --resume a leftover partial is replaced, and the user is told
        Path other = dir.resolve("replaced.safetensors");
        Process s = Cli.start(List.of(), List.of(), dir.resolve("s.out"), dir.resolve("s.err"), mergeArgs(other));
        awaitCompleted(s, other, 1);
        s.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        Cli.Result plain = Cli.run(mergeArgs(other, "--method", "average"));
        assertEquals(0, plain.exit(), plain.toString());
        assertTrue(plain.err().contains("removing the partial output"), plain.toString());
        assertEquals(List.of(), leftovers());
    }

    @Test
    void autoDeviceMergesOnTheCpuWhenNativeLibrariesCannotLoad() throws Exception {
        // under ulimit -f 64, JNA cannot extract its native library, so the GPU probe's classes fail to
        // load (a LinkageError); --device auto must still merge, on the CPU, with one line saying why.
        // Where JNA finds an installed copy instead, this merely merges.
        Path small = dir.resolve("small-base.safetensors");
        Path smallA = dir.resolve("small-a.safetensors");
        for (Path p : List.of(small, smallA)) {
            try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(new TensorSpec("w", DType.F32,
                    new long[] {16, 16})), Map.of())) {
                float[] v = new float[256];
                java.util.Arrays.fill(v, p == small ? 0.5f : 0.75f);
                w.writeFloats(v, 0, v.length);
                w.finish();
            }
        }
        Path out = dir.resolve("auto.safetensors");
        Path err = dir.resolve("auto.err");
        Process p = Cli.start(List.of("bash", "-c", "ulimit -f 64 && exec \"$0\" \"$@\""), List.of(),
                dir.resolve("auto.out"), err, "merge", "--base", small.toString(), "--model", smallA.toString(),
                "--out", out.toString(), "--device", "auto", "--method", "average");
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        String e = stderr(err);
        assertEquals(0, p.exitValue(), e);
        assertFalse(e.contains("\tat "), "no stack trace: " + e);
        assertTrue(Files.exists(out));
    }

    /** The merge of {@code more} under `ulimit -f kib` (files may grow to kib KiB), left to fail. */
    private static String fileSizeLimited(int kib, Path out, String... more) throws Exception {
        // a write past the limit fails with EFBIG as one on a full disk fails with ENOSPC (the JVM ignores
        // SIGXFSZ, so the write just fails); the output is ~900 KB of 36 KB tensors
        Path err = dir.resolve(out.getFileName() + ".err");
        Process p = Cli.start(List.of("bash", "-c", "ulimit -f " + kib + " && exec \"$0\" \"$@\""), List.of(),
                dir.resolve(out.getFileName() + ".out"), err, mergeArgs(out, more));
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        String e = stderr(err);
        assertEquals(1, p.exitValue(), e);
        assertTrue(e.contains("wudi: error: ") && e.contains(partial(out).toString())
                && e.contains("writing tensor blocks."), e);
        assertFalse(e.contains("\tat "), "no stack trace: " + e);
        assertFalse(Files.exists(out));
        return e;
    }

    @Test
    void fullDiskKeepsTheCompletedTensorsAndResumeFinishesByteIdentical() throws Exception {
        Path out = dir.resolve("full.safetensors");
        String e = fileSizeLimited(64, out);
        // 64 KiB hold the header and one 36 KB tensor: that one is journaled, the second fails
        assertTrue(e.contains("1 of " + TENSORS + " tensors are complete and kept in " + partial(out))
                && e.contains("free space and rerun the same command with --resume"), e);
        assertEquals(1, completed(out));
        assertEquals(List.of(".full.safetensors.wudi-journal", ".full.safetensors.wudi-partial"),
                leftovers().stream().filter(n -> n.startsWith(".full.")).sorted().toList(),
                "partial and journal kept, the lock released");

        Cli.Result r = Cli.run(mergeArgs(out, "--resume"));
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("1 of " + TENSORS + " tensors were completed by an earlier run"), r.toString());
        assertArrayEquals(reference, Files.readAllBytes(out), "resumed after a full disk = uninterrupted, byte for byte");
        assertEquals(List.of(), leftovers());
    }

    @Test
    void fullDiskBeforeTheFirstTensorLeavesNothing() throws Exception {
        Path out = dir.resolve("full0.safetensors");
        String e = fileSizeLimited(16, out, "--method", "average");
        assertTrue(e.contains("the temporary output was removed"), e);
        assertEquals(List.of(), leftovers());
        assertArrayEquals(Files.readAllBytes(dir.resolve("whole.safetensors")), reference, "inputs and earlier output untouched");
    }
}
