package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each solver's memory on one large matrix, measured in a child JVM with a bounded heap and a bounded native budget:
 * the process's peak resident memory (VmHWM: heap, JavaCPP buffers, LAPACK's own workspaces, mapped inputs) above
 * that of the same command on a tiny matrix (the JVM, the libraries, the code) must stay within what `wudi plan`
 * estimates for the tensor, plus the capped heap. The heap cap (-Xmx64m) leaves no room for heap copies of C (38 MB
 * here) or for eigenvectors in a heap double[] (75 MB); the native budget (JavaCPP's maxBytes, which fails an
 * allocation past it with an OutOfMemoryError) is the plan's estimate, so a solver that allocated more native memory
 * than the plan says fails here even where the machine has room.
 *
 * <p>The matrix is [384, 3072] float32: C is [3072, 3072] (38 MB in float32, 75 MB in double), so the solvers' working
 * sets (110-200 MB) stand well above the noise of a JVM's resident memory (tens of MB). Before the in-place solvers,
 * spectral held C in double with dsyevd's 2 n^2 workspace and a transposed copy (about 4 n^2 doubles, 300 MB, plus heap
 * copies) and exact its C, a transposed copy and the workspace (another 300 MB): both above these bounds.
 */
class SolverMemoryTest {

    static final int ROWS = 384;
    static final int COLS = 3072;
    static final String NAME = "model.layers.0.mlp.down_proj.weight";
    static final long HEAP = 64L << 20;
    /** Resident-memory noise between two JVM runs (JIT code, GC structures, thread stacks, page-cache granularity). */
    static final long SLACK = 48L << 20;

    @TempDir
    static Path dir;

    @BeforeAll
    static void checkpoints() throws IOException {
        for (int m = 0; m <= 3; m++) {
            write(dir.resolve("big" + m + ".safetensors"), ROWS, COLS, m);
            write(dir.resolve("tiny" + m + ".safetensors"), 8, 16, m);
        }
    }

    private static void write(Path file, int rows, int cols, int model) throws IOException {
        try (SafetensorsWriter w = SafetensorsWriter.create(file,
                List.of(new TensorSpec(NAME, DType.F32, new long[] {rows, cols})), Map.of())) {
            Random base = new Random(7);
            Random task = new Random(100 + model);
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    row[c] = (float) (base.nextGaussian() * 0.02 + (model == 0 ? 0 : task.nextGaussian() * 1e-3));
                }
                w.writeFloats(row, 0, cols);
            }
            w.finish();
        }
    }

    private static List<String> args(String size, String out, List<String> solver) {
        List<String> a = new ArrayList<>(List.of("--base", dir.resolve(size + "0.safetensors").toString()));
        for (int m = 1; m <= 3; m++) {
            a.add("--model");
            a.add(dir.resolve(size + m + ".safetensors").toString());
        }
        a.addAll(solver);
        a.addAll(List.of("--device", "cpu", "--threads", "2"));
        if (out != null) {
            a.addAll(List.of("--out", out, "--quiet", "--force"));
        }
        return a;
    }

    /** `wudi plan --json`'s peak estimate for the big tensor. */
    private static long planned(List<String> solver) throws Exception {
        List<String> a = new ArrayList<>(List.of("plan", "--json"));
        a.addAll(args("big", null, solver));
        Cli.Result r = Cli.run(a.toArray(String[]::new));
        assertEquals(0, r.exit(), r.toString());
        JsonNode plan = new ObjectMapper().readTree(r.out());
        for (JsonNode t : plan.get("tensors")) {
            if (t.get("name").asText().equals(NAME)) {
                return t.get("peak_bytes").asLong();
            }
        }
        throw new AssertionError("the plan has no " + NAME + ": " + r.out());
    }

    private static long peak(String size, List<String> solver, long nativeBudget) throws Exception {
        List<String> a = new ArrayList<>(List.of("merge"));
        a.addAll(args(size, dir.resolve(size + "-out.safetensors").toString(), solver));
        Cli.Result r = Cli.run(PeakMemoryMain.class.getName(), Map.of(), List.of(),
                List.of("-Xmx" + (HEAP >> 20) + "m", "-Dorg.bytedeco.javacpp.maxBytes=" + nativeBudget,
                        "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"), a.toArray(String[]::new));
        assertEquals(0, r.exit(), String.join(" ", solver) + " on the " + size + " matrix: " + r);
        String last = r.err().strip().lines().reduce((x, y) -> y).orElse("");
        assertTrue(last.startsWith(PeakMemoryMain.PREFIX), r.toString());
        return Long.parseLong(last.substring(PeakMemoryMain.PREFIX.length()));
    }

    private static void withinThePlan(List<String> solver) throws Exception {
        assumeTrue(PeakMemoryMain.peakResidentBytes() > 0, "no /proc/self/status VmHWM on this system (not Linux)");
        long plan = planned(solver);
        long tiny = peak("tiny", solver, plan);
        long big = peak("big", solver, plan);
        long above = big - tiny;
        String what = String.join(" ", solver) + ": peak resident " + (big >> 20) + " MB, " + (above >> 20)
                + " MB above the tiny matrix's " + (tiny >> 20) + " MB; the plan says " + (plan >> 20) + " MB";
        System.out.println(what);
        assertTrue(above <= plan + HEAP + SLACK, what);
        // and the measurement sees the working set: C alone is 38 MB
        assertTrue(above > 4L * COLS * COLS, what);
    }

    /**
     * A tensor that does not fit the native budget fails with one line naming it, the plan's estimate and what to
     * change, and the tensors before it are kept: rerun with more memory and --resume, the output is the same bytes as
     * an uninterrupted merge.
     */
    @Test
    void runningOutOfMemoryNamesTheTensorAndKeepsTheCompletedOnesForResume() throws Exception {
        for (int m = 0; m <= 3; m++) {
            Path file = dir.resolve("two" + m + ".safetensors");
            try (SafetensorsWriter w = SafetensorsWriter.create(file, List.of(
                    new TensorSpec("a.small.weight", DType.F32, new long[] {16, 32}),
                    new TensorSpec(NAME, DType.F32, new long[] {ROWS, COLS})), Map.of())) {
                Random r = new Random(m);
                float[] row = new float[COLS];
                for (int i = 0; i < 16 + ROWS; i++) {
                    int cols = i < 16 ? 32 : COLS;
                    for (int c = 0; c < cols; c++) {
                        row[c] = (float) (0.02 * new Random(i * 7919L + c).nextGaussian() + (m == 0 ? 0 : 1e-3 * r.nextGaussian()));
                    }
                    w.writeFloats(row, 0, cols);
                }
                w.finish();
            }
        }
        List<String> a = new ArrayList<>(List.of("merge", "--base", dir.resolve("two0.safetensors").toString()));
        for (int m = 1; m <= 3; m++) {
            a.addAll(List.of("--model", dir.resolve("two" + m + ".safetensors").toString()));
        }
        a.addAll(List.of("--solver", "spectral", "--device", "cpu", "--quiet"));
        Path out = dir.resolve("two-out.safetensors");
        Path straight = dir.resolve("two-straight.safetensors");
        List<String> small = List.of("-Dorg.bytedeco.javacpp.maxBytes=" + (24L << 20));
        List<String> toOut = new ArrayList<>(a);
        toOut.addAll(List.of("--out", out.toString()));
        Cli.Result r = Cli.run(small, toOut.toArray(String[]::new));
        assertEquals(1, r.exit(), r.toString());
        String line = r.err().strip();
        assertTrue(line.startsWith("wudi: error: tensor " + NAME + ": out of memory") && !line.contains("\tat "), line);
        assertTrue(line.contains("estimates its peak at") && line.contains("1 of 2 tensors are complete and kept")
                && line.contains("--resume"), line);
        assertTrue(!Files.exists(out), "no output under the final name");

        List<String> resume = new ArrayList<>(toOut);
        resume.add("--resume");
        Cli.Result again = Cli.run(resume.toArray(String[]::new));
        assertEquals(0, again.exit(), again.toString());
        List<String> direct = new ArrayList<>(a);
        direct.addAll(List.of("--out", straight.toString()));
        assertEquals(0, Cli.run(direct.toArray(String[]::new)).exit());
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(straight), Files.readAllBytes(out)),
                "resumed after running out of memory, the output equals an uninterrupted merge's bytes");
    }

    @Test
    void adamStaysWithinItsPlannedMemory() throws Exception {
        withinThePlan(List.of("--solver", "adam", "--iters", "3"));
    }

    @Test
    void spectralStaysWithinItsPlannedMemory() throws Exception {
        withinThePlan(List.of("--solver", "spectral"));
    }

    @Test
    void exactInDoubleStaysWithinItsPlannedMemory() throws Exception {
        withinThePlan(List.of("--solver", "exact"));
    }

    @Test
    void exactWithARidgeStaysWithinItsPlannedMemory() throws Exception {
        withinThePlan(List.of("--solver", "exact", "--ridge", "1e-3"));
    }
}
