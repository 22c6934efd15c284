package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.FakeGpuBackend;
import dev.wudi.backend.Backends;
import dev.wudi.backend.WudiProblem;
import dev.wudi.backend.DeviceMemoryException;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.cuda.CudaException;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.method.MergeMethods;
import dev.wudi.solver.AdamConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The merge's own safety nets, in process: input scan (NaN/Inf, a model equal to the base), interruption
 * with a resumable partial output and a byte-identical resume, refusals of a resume that does not fit,
 * backend failures that leave nothing behind, and the CPU fallback for a tensor too large for a device.
 */
class MergeSafetyTest {

    static final int TENSORS = 8;

    @TempDir
    Path tmp;

    private static Backend cpu;

    @BeforeAll
    static void backend() {
        cpu = Backends.cpu(1);
    }

    @AfterAll
    static void closeBackend() {
        cpu.close();
    }

    /** TENSORS weights [24, 16] F32 plus a BF16 norm; a task perturbs the base by ~1e-2. */
    private Path write(String name, long seed, float poison) throws IOException {
        Path p = tmp.resolve(name + ".safetensors");
        List<TensorSpec> specs = new ArrayList<>();
        for (int t = 0; t < TENSORS; t++) {
            specs.add(new TensorSpec("layers." + t + ".weight", DType.F32, new long[] {24, 16}));
        }
        specs.add(new TensorSpec("norm.weight", DType.BF16, new long[] {16}));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of("format", "pt"))) {
            for (TensorSpec s : specs) {
                int n = (int) (s.byteSize() / s.dtype().bytes());
                Random base = new Random(s.name().hashCode());
                Random task = new Random(seed * 7919 + s.name().hashCode());
                float[] v = new float[n];
                for (int j = 0; j < n; j++) {
                    v[j] = (float) (base.nextGaussian() * 0.1 + (seed == 0 ? 0 : task.nextGaussian() * 1e-2));
                }
                if (s.name().equals("layers.5.weight")) {
                    v[37] = poison;
                }
                w.writeFloats(v, 0, n);
            }
            w.finish();
        }
        return p;
    }

    private MergeSpec options(Path out, Path base, Path... models) {
        return MergeSpec.defaults(base, List.of(models), out).withAdam(AdamConfig.paper().withLr(1e-3f)
                .withIterations(20)).withShardBytes(5000);
    }

    /** Records warnings and notes; can stop the merge after a number of tensors. */
    static final class Recorder implements MergeListener {
        final List<String> warnings = new ArrayList<>();
        final List<String> infos = new ArrayList<>();
        Cancellation stopAfter;
        int stopAt = -1;
        int done;

        @Override
        public void warning(String message) {
            warnings.add(message);
        }

        @Override
        public void info(String message) {
            infos.add(message);
        }

        @Override
        public void tensorDone(TensorRecord record, long work) {
            if (++done == stopAt) {
                stopAfter.request("interrupted");
            }
        }
    }

    private List<String> leftovers() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".wudi-")).toList();
        }
    }

    @Test
    void nonFiniteInputIsRefusedNamingTensorFileAndElementUnlessAllowed() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path bad = write("nan", 1, Float.NaN);
        Path out = tmp.resolve("out.safetensors");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> new Merger(options(out, base, bad), cpu, null).run());
        assertTrue(e.getMessage().contains("layers.5.weight") && e.getMessage().contains(bad.toString())
                && e.getMessage().contains("NaN at element 37") && e.getMessage().contains("--allow-nonfinite"),
                e::getMessage);
        assertFalse(Files.exists(out));
        assertEquals(List.of(), leftovers());

        Path inf = write("inf", 2, Float.NEGATIVE_INFINITY);
        Recorder r = new Recorder();
        new Merger(options(out, base, inf).withMethod(MergeMethods.AVERAGE), cpu, r,
                new Merger.Safety(false, true, new Cancellation())).run();
        assertTrue(Files.exists(out));
        assertTrue(r.warnings.stream().anyMatch(w -> w.contains("-Inf at element 37") && w.contains(inf.toString())),
                r.warnings::toString);
    }

    @Test
    void incompatibleDtypeIsRefusedNamingTensorAndBothFiles() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path ints = tmp.resolve("ints.safetensors");
        List<TensorSpec> specs = new ArrayList<>();
        for (int t = 0; t < TENSORS; t++) {
            specs.add(new TensorSpec("layers." + t + ".weight", DType.F32, new long[] {24, 16}));
        }
        specs.add(new TensorSpec("norm.weight", DType.I16, new long[] {16}));
        try (SafetensorsWriter w = SafetensorsWriter.create(ints, specs, Map.of())) {
            w.writeFloats(new float[TENSORS * 24 * 16], 0, TENSORS * 24 * 16);
            w.write(java.nio.ByteBuffer.allocate(32));
            w.finish();
        }
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> new Merger(options(tmp.resolve("o.safetensors"), base, ints), cpu, null).run());
        assertTrue(e.getMessage().contains("norm.weight") && e.getMessage().contains("I16")
                && e.getMessage().contains(base.toString()) && e.getMessage().contains(ints.toString()), e::getMessage);
    }

    @Test
    void modelEqualToTheBaseIsWarned() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path copy = write("copy", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        Recorder r = new Recorder();
        new Merger(options(tmp.resolve("o.safetensors"), base, a, copy, base), cpu, r).run();
        assertEquals(3, r.warnings.size(), r.warnings::toString);
        assertTrue(r.warnings.get(0).contains(copy.toString()) && r.warnings.get(0).contains("zero everywhere"));
        assertTrue(r.warnings.get(1).contains("is the base itself"));
        // and, after the merge, once: those two are left out of every WUDI loss (weight 1/||tau||^2 = infinity)
        assertTrue(r.warnings.get(2).contains("model 2 in " + TENSORS + " tensors, model 3 in " + TENSORS + " tensors"),
                r.warnings::toString);
    }

    @Test
    void interruptedMergeKeepsAResumablePartialAndResumeIsByteIdentical() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        Path b = write("b", 2, 0.5f);
        for (boolean folder : new boolean[] {false, true}) {
            Path baseIn = base;
            if (folder) {
                // a folder base gives a sharded folder output (5000-byte shards: several)
                Path d = Files.createDirectories(tmp.resolve("basedir"));
                Files.copy(base, d.resolve("model.safetensors"));
                Files.writeString(d.resolve("config.json"), "{}");
                baseIn = d;
            }
            Path whole = tmp.resolve(folder ? "whole" : "whole.safetensors");
            new Merger(options(whole, baseIn, a, b), cpu, null).run();

            Path out = tmp.resolve(folder ? "resumed" : "resumed.safetensors");
            Recorder r = new Recorder();
            r.stopAfter = new Cancellation();
            r.stopAt = 5;
            MergeInterruptedException e = assertThrows(MergeInterruptedException.class, () -> new Merger(
                    options(out, tmp.resolve(folder ? "basedir" : "base.safetensors"), a, b), cpu, r,
                    new Merger.Safety(false, false, r.stopAfter)).run());
            assertTrue(e.getMessage().contains("5 of " + (TENSORS + 1)) && e.getMessage().contains("--resume"),
                    e::getMessage);
            assertFalse(Files.exists(out));
            assertTrue(Files.exists(CheckpointWriter.partialPath(out)));
            assertTrue(Files.exists(CheckpointWriter.journalPath(out)));

            Recorder again = new Recorder();
            MergeReport rep = new Merger(options(out, baseIn, a, b), cpu, again,
                    new Merger.Safety(true, false, new Cancellation())).run();
            assertTrue(again.infos.stream().anyMatch(i -> i.contains("5 of " + (TENSORS + 1))), again.infos::toString);
            assertEquals(TENSORS + 1, rep.tensors().size(), "resumed tensors keep their report records");
            assertTrue(rep.optimisedCount() == TENSORS, "losses of resumed WUDI tensors come from the journal");
            assertSameBytes(whole, out);
            assertFalse(Files.exists(CheckpointWriter.partialPath(out)));
            assertFalse(Files.exists(CheckpointWriter.journalPath(out)));
        }
    }

    @Test
    void resumeIsByteIdenticalWithTheOtherSolversAndAutoLr() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        Path b = write("b", 2, 0.5f);
        List<java.util.function.UnaryOperator<MergeSpec>> variants = List.of(
                o -> o.withSolver(new dev.wudi.solver.SolverSpec.Exact(1e-6)),
                o -> o.withSolver(new dev.wudi.solver.SolverSpec.Flow(Double.NaN)),
                o -> o.withAutoLr(new dev.wudi.solver.AutoLr(1.0)));
        int v = 0;
        for (java.util.function.UnaryOperator<MergeSpec> variant : variants) {
            v++;
            Path whole = tmp.resolve("whole" + v + ".safetensors");
            new Merger(variant.apply(options(whole, base, a, b)), cpu, null).run();
            Path out = tmp.resolve("resumed" + v + ".safetensors");
            Recorder r = new Recorder();
            r.stopAfter = new Cancellation();
            r.stopAt = 4;
            assertThrows(MergeInterruptedException.class, () -> new Merger(variant.apply(options(out, base, a, b)),
                    cpu, r, new Merger.Safety(false, false, r.stopAfter)).run());
            new Merger(variant.apply(options(out, base, a, b)), cpu, null,
                    new Merger.Safety(true, false, new Cancellation())).run();
            assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(out), "variant " + v);
        }
    }

    private static void assertSameBytes(Path expected, Path actual) throws IOException {
        if (Files.isDirectory(expected)) {
            List<String> names;
            try (Stream<Path> s = Files.list(expected)) {
                names = s.map(p -> p.getFileName().toString()).sorted().toList();
            }
            try (Stream<Path> s = Files.list(actual)) {
                assertEquals(names, s.map(p -> p.getFileName().toString()).sorted().toList());
            }
            assertTrue(names.size() > 2, "several shards: " + names);
            for (String n : names) {
                if (n.equals("README.md")) {
                    // the model card names the output folder (its title, --out in the command): the rest is the same
                    assertEquals(Files.readString(expected.resolve(n)).replace(expected.getFileName().toString(), "OUT"),
                            Files.readString(actual.resolve(n)).replace(actual.getFileName().toString(), "OUT"), n);
                    continue;
                }
                assertArrayEquals(Files.readAllBytes(expected.resolve(n)), Files.readAllBytes(actual.resolve(n)), n);
            }
        } else {
            assertArrayEquals(Files.readAllBytes(expected), Files.readAllBytes(actual));
        }
    }

    @Test
    void resumeThatDoesNotFitIsRefusedAndAPlainRunReplacesTheLeftover() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        Path out = tmp.resolve("o.safetensors");
        CheckpointException none = assertThrows(CheckpointException.class, () -> new Merger(options(out, base, a), cpu,
                null, new Merger.Safety(true, false, new Cancellation())).run());
        assertTrue(none.getMessage().contains("no partial output") && none.getMessage().contains("without --resume"),
                none::getMessage);

        Recorder r = new Recorder();
        r.stopAfter = new Cancellation();
        r.stopAt = 2;
        assertThrows(MergeInterruptedException.class, () -> new Merger(options(out, base, a), cpu, r,
                new Merger.Safety(false, false, r.stopAfter)).run());
        MergeSpec otherLr = options(out, base, a).withAdam(AdamConfig.paper().withLr(2e-3f).withIterations(20));
        CheckpointException differs = assertThrows(CheckpointException.class, () -> new Merger(otherLr, cpu, null,
                new Merger.Safety(true, false, new Cancellation())).run());
        assertTrue(differs.getMessage().contains("--lr: 0.001 then, 0.002 now")
                && !differs.getMessage().contains("AdamConfig")
                && differs.getMessage().contains("without --resume"), differs::getMessage);
        assertTrue(Files.exists(CheckpointWriter.partialPath(out)), "a refused resume leaves the partial alone");

        Recorder plain = new Recorder();
        new Merger(otherLr, cpu, plain).run();
        assertTrue(plain.infos.stream().anyMatch(i -> i.contains("removing the partial output")), plain.infos::toString);
        assertTrue(Files.exists(out));
        assertEquals(List.of(), leftovers());
    }

    @Test
    void inputTruncatedMidMergeIsOneErrorNamingFileAndTensorAndLeavesNothing() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        Path out = tmp.resolve("o.safetensors");
        MergeListener truncateAfterTwo = new MergeListener() {
            int done;

            @Override
            public void tensorDone(TensorRecord record, long work) {
                if (++done == 2) {
                    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(a,
                            java.nio.file.StandardOpenOption.WRITE)) {
                        ch.truncate(4096);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            }
        };
        IOException e = assertThrows(IOException.class, () -> new Merger(options(out, base, a), cpu,
                truncateAfterTwo).run());
        assertTrue(e.getMessage().contains(a.toString()) && e.getMessage().contains("layers.2.weight")
                && e.getMessage().contains("shrank"), e::getMessage);
        assertFalse(Files.exists(out));
        assertEquals(List.of(), leftovers(), "no partial output, journal or lock after a read error");
    }

    @Test
    void twoMergesToTheSameOutputAtOnceAreRefused() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        Path out = tmp.resolve("o.safetensors");
        Path lockFile = tmp.resolve(".o.safetensors.wudi-lock");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(lockFile,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
             java.nio.channels.FileLock held = ch.lock()) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> new Merger(options(out, base, a), cpu, null).run());
            assertTrue(e.getMessage().contains("another wudi merge is writing"), e::getMessage);
        }
        Files.delete(lockFile);
        new Merger(options(out, base, a), cpu, null).run();
        assertEquals(List.of(), leftovers(), "the lock file goes with the merge");
    }

    @Test
    void outputThroughASymbolicLinkToAnInputIsRefused() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        byte[] before = Files.readAllBytes(a);
        Path link = Files.createSymbolicLink(tmp.resolve("link.safetensors"), a);
        Path dirLink = Files.createSymbolicLink(tmp.resolve("inputs"), tmp);
        for (Path out : List.of(link, dirLink.resolve("a.safetensors"))) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> new Merger(options(out, base, a).withForce(true), cpu, null).run());
            assertTrue(e.getMessage().contains("overlaps the input"), e::getMessage);
        }
        assertArrayEquals(before, Files.readAllBytes(a));
    }

    /** Delegates to the CPU backend, but fails as a GPU backend might on tensors layers.3 and up. */
    private static Backend failing(RuntimeException forLayer3AndUp) {
        return new FakeGpuBackend() {
            @Override
            public WudiProblem newProblem(String tensorName, int rows, int cols) {
                int layer = Integer.parseInt(tensorName.split("\\.")[1]);
                if (layer >= 3) {
                    throw forLayer3AndUp;
                }
                return super.newProblem(tensorName, rows, cols);
            }
        };
    }

    @Test
    void tensorTooLargeForTheDeviceIsComputedOnTheCpuWithTheSameResult() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        Path b = write("b", 2, 0.5f);
        Path ref = tmp.resolve("cpu.safetensors");
        new Merger(options(ref, base, a, b), cpu, null).run();
        Path out = tmp.resolve("fallback.safetensors");
        Recorder r = new Recorder();
        MergeSpec o = options(out, base, a, b);
        new Merger(o.toBuilder().threads(1).force(false).build(),
                failing(new DeviceMemoryException("x", 24, 16, 1L << 40, 1L << 30, "fake-gpu")), r).run();
        assertEquals(TENSORS - 3, r.warnings.stream().filter(w -> w.contains("merging it on the CPU")).count(),
                r.warnings::toString);
        assertArrayEquals(Files.readAllBytes(ref), Files.readAllBytes(out));
    }

    @Test
    void backendFailureNamesCallAndTensorAndLeavesNothing() throws IOException {
        Path base = write("base", 0, 0.5f);
        Path a = write("a", 1, 0.5f);
        Path out = tmp.resolve("o.safetensors");
        CheckpointException e = assertThrows(CheckpointException.class, () -> new Merger(options(out, base, a),
                failing(new CudaException("cublasSgemm", "CUBLAS_STATUS_EXECUTION_FAILED", "the Adam step's GEMM")),
                null).run());
        assertTrue(e.getMessage().contains("cublasSgemm") && e.getMessage().contains("layers.3.weight"), e::getMessage);
        assertFalse(Files.exists(out));
        assertEquals(List.of(), leftovers(), "no partial output or journal after a failure");
    }
}
