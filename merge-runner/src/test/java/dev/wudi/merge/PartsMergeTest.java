package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.MergeSpecBuilder;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.checkpoint.TaskCheckpoints;
import dev.wudi.format.PartialCopies;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import dev.wudi.method.MergeMethods;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A merge computed in pieces (what a distributed merge does: {@link DistributedMerge#validate} on the driver, each group of
 * tensors {@link DistributedMerge#computePart computed into a part file} by a separate DistributedMerge, the output written from the parts
 * with {@link DistributedMerge#writeFromParts}) is the same file, byte for byte, as the merge computed in one process, for WUDI
 * with each solver and for the element-wise methods, single-file and sharded folder outputs.
 */
class PartsMergeTest {

    @TempDir
    static Path dir;
    static final String[] NAMES = {"l0.attn.weight", "l0.attn.bias", "l0.mlp.weight", "l0.norm.weight",
        "l1.attn.weight", "l1.mlp.weight", "l1.norm.weight"};
    static final long[][] SHAPES = {{24, 32}, {24}, {48, 32}, {32}, {24, 32}, {16, 48}, {32}};

    @BeforeAll
    static void checkpoints() throws Exception {
        TaskCheckpoints.writeFilesAndFolders(dir, NAMES, SHAPES, 100);
    }

    private static MergeSpecBuilder options(boolean folder, String out) {
        Path base = folder ? dir.resolve("f0") : dir.resolve("m0.safetensors");
        List<Path> models = new ArrayList<>();
        for (int m = 1; m <= 3; m++) {
            models.add(folder ? dir.resolve("f" + m) : dir.resolve("m" + m + ".safetensors"));
        }
        return MergeSpec.builder(base, models, dir.resolve(out)).threads(1).force(true);
    }

    /** The merge in one process and in parts (groups of `group` tensors); returns both outputs' bytes. */
    private static void sameInParts(MergeSpecBuilder b, boolean folder, String what) throws Exception {
        sameInParts(b, folder, what, false);
    }

    /**
     * @param partial each part is computed from partial copies of the inputs holding only the tensors
     *                {@link DistributedMerge#sourcesOf} names (as a task on remote storage fetches them), holes elsewhere
     */
    private static void sameInParts(MergeSpecBuilder b, boolean folder, String what, boolean partial)
            throws Exception {
        String tag = what.replaceAll("[^a-z0-9]", "");
        MergeSpec whole = b.build();
        try (Backend cpu = Backends.cpu(1)) {
            new Merger(whole, cpu, null).run();
        }
        Path straight = dir.resolve("straight-" + tag + (folder ? "" : ".safetensors"));
        Files.move(whole.out(), straight);

        List<String> warnings = new ArrayList<>();
        List<DistributedMerge.MethodTensor> tensors;
        // one driver checks and scans, then writes from the parts (what it found, kept tensors included, goes into the
        // report and the card), as wudi-spark's driver does
        Backend driverCpu = Backends.cpu(1);
        DistributedMerge driver = new DistributedMerge(whole, driverCpu, null, Merger.Safety.defaults());
        tensors = driver.validate(warnings);
        assertTrue(tensors.size() >= 4, what + ": the method's tensors " + tensors);
        Map<String, Path> files = new HashMap<>();
        Map<String, String> records = new HashMap<>();
        for (int g = 0; g * 2 < tensors.size(); g++) {
            List<String> names = tensors.subList(2 * g, Math.min(tensors.size(), 2 * g + 2)).stream()
                    .map(DistributedMerge.MethodTensor::name).toList();
            Path part = dir.resolve("part-" + tag + "-" + g + ".safetensors");
            List<DistributedMerge.PartTensor> done;
            try (Backend cpu = Backends.cpu(1)) {
                MergeSpec o = partial ? partialCopies(whole, names, dir.resolve("partial-" + tag + "-" + g)) : whole;
                done = new DistributedMerge(o, cpu, null, Merger.Safety.defaults()).computePart(names, part);
            }
            assertEquals(names, done.stream().map(DistributedMerge.PartTensor::name).toList());
            for (DistributedMerge.PartTensor t : done) {
                files.put(t.name(), part);
                records.put(t.name(), t.record());
            }
        }
        assertTrue(!Files.exists(whole.out()), "computing parts writes no output");
        MergeReport r;
        try (driverCpu) {
            r = driver.writeFromParts(new Merger.Precomputed(files, records, true));
        }
        if (folder) {
            try (Stream<Path> s = Files.list(straight)) {
                for (Path p : s.toList()) {
                    if (!p.getFileName().toString().endsWith(".json") || p.getFileName().toString().contains("index")) {
                        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(whole.out().resolve(p.getFileName())),
                                what + ": " + p.getFileName());
                    }
                }
            }
        } else {
            assertArrayEquals(Files.readAllBytes(straight), Files.readAllBytes(whole.out()), what);
        }
        assertTrue(r.tensors().stream().filter(t -> t.method().equals(whole.method().name())).allMatch(
                t -> Double.isFinite(t.lossBefore()) || !whole.method().name().equals("wudi")), what + ": losses kept");
    }

    @Test
    void wudiWithEachSolverIsTheSameFileInParts() throws Exception {
        sameInParts(options(false, "adam.safetensors").adam(AdamConfig.paper().withLr(1e-3f).withIterations(5)),
                false, "adam");
        sameInParts(options(false, "spectral.safetensors").solver(SolverSpec.Spectral.defaults()), false, "spectral");
        sameInParts(options(false, "exact.safetensors").solver(new SolverSpec.Exact(0)), false, "exact");
        sameInParts(options(false, "ridge.safetensors").solver(new SolverSpec.Exact(1e-2)), false, "ridge");
        sameInParts(options(false, "flow.safetensors").solver(new SolverSpec.Flow(Double.NaN)), false, "flow");
    }

    @Test
    void elementWiseMethodsAndShardedFoldersAreTheSameInParts() throws Exception {
        sameInParts(options(false, "ties.safetensors").method(MergeMethods.TIES), false, "ties");
        sameInParts(options(false, "ta.safetensors").method(MergeMethods.TASK_ARITHMETIC).scale(0.4), false, "ta");
        sameInParts(options(true, "folder-out").shardBytes(4096)
                .adam(AdamConfig.paper().withLr(1e-3f).withIterations(5)), true, "folder");
    }

    /**
     * Copies of the inputs of {@code whole} under {@code root} (same layout) that hold only the bytes of the tensors
     * {@link DistributedMerge#sourcesOf}(names) lists, every other byte a hole, registered as {@link PartialCopies}; the other
     * files of a folder are copied whole. Returns the merge's options on those copies.
     */
    static MergeSpec partialCopies(MergeSpec whole, List<String> names, Path root) throws Exception {
        Map<Path, Set<String>> need;
        try (Backend cpu = Backends.cpu(1)) {
            need = new DistributedMerge(whole, cpu, null, Merger.Safety.defaults()).sourcesOf(names);
        }
        List<Path> inputs = new ArrayList<>(whole.models());
        inputs.add(0, whole.base());
        List<Path> copies = new ArrayList<>();
        for (Path in : inputs) {
            Path to = root.resolve(dir.relativize(in));
            copies.add(to);
            if (Files.isDirectory(in)) {
                Files.createDirectories(to);
                try (Stream<Path> s = Files.list(in)) {
                    for (Path f : s.toList()) {
                        if (f.getFileName().toString().endsWith(".safetensors")) {
                            partialCopy(f, to.resolve(f.getFileName()), need.getOrDefault(
                                    f.toAbsolutePath().normalize(), Set.of()));
                        } else {
                            Files.copy(f, to.resolve(f.getFileName()));
                        }
                    }
                }
            } else {
                Files.createDirectories(to.getParent());
                partialCopy(in, to, need.getOrDefault(in.toAbsolutePath().normalize(), Set.of()));
            }
        }
        return whole.withPaths(copies.get(0), copies.subList(1, copies.size()), whole.out());
    }

    /** The header of {@code from} and the bytes of {@code held}, at their offsets in a file of the same size. */
    private static void partialCopy(Path from, Path to, Set<String> held) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(from);
             java.nio.channels.FileChannel in = java.nio.channels.FileChannel.open(from);
             java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(to,
                     java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer len = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            in.read(len, 0);
            long dataStart = 8 + len.getLong(0);
            in.transferTo(0, dataStart, out);
            for (String name : held) {
                TensorInfo t = f.tensor(name);
                out.position(dataStart + t.begin());
                in.transferTo(dataStart + t.begin(), t.end() - t.begin(), out);
            }
            if (out.size() < Files.size(from)) {
                out.write(java.nio.ByteBuffer.allocate(1), Files.size(from) - 1);
            }
        }
        PartialCopies.register(to, held);
    }

    @Test
    void partsComputedFromPartialCopiesOfTheInputsAreTheSameFile() throws Exception {
        sameInParts(options(false, "pc-adam.safetensors").adam(AdamConfig.paper().withLr(1e-3f).withIterations(5)),
                false, "pc adam", true);
        sameInParts(options(false, "pc-ties.safetensors").method(MergeMethods.TIES), false, "pc ties", true);
        sameInParts(options(true, "pc-folder").shardBytes(4096).solver(SolverSpec.Spectral.defaults()), true,
                "pc folder", true);
    }

    @Test
    void aPartialCopyRefusesToReadATensorItDoesNotHold() throws Exception {
        MergeSpec whole = options(false, "pc-guard.safetensors").build();
        MergeSpec copies = partialCopies(whole, List.of("l0.attn.weight"), dir.resolve("partial-guard"));
        try (Backend cpu = Backends.cpu(1)) {
            // what it holds merges; the tensor it was not given is refused by name, never read as zeros
            new DistributedMerge(copies, cpu, null, Merger.Safety.defaults()).computePart(List.of("l0.attn.weight"), dir.resolve("guard-ok.safetensors"));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new DistributedMerge(copies, cpu, null, Merger.Safety.defaults())
                    .computePart(List.of("l0.mlp.weight"), dir.resolve("guard-bad.safetensors")));
            assertTrue(e.getMessage().contains("tensor 'l0.mlp.weight' was not fetched"), e.getMessage());
            assertTrue(e.getMessage().contains("partial-guard"), e.getMessage());
        }
        // the base's tensor and each model's, by file
        Map<Path, Set<String>> expected = new HashMap<>();
        for (int m = 0; m <= 3; m++) {
            expected.put(dir.resolve("m" + m + ".safetensors").toAbsolutePath().normalize(), Set.of("l0.attn.weight"));
        }
        try (Backend cpu = Backends.cpu(1)) {
            assertEquals(expected, new DistributedMerge(whole, cpu, null, Merger.Safety.defaults()).sourcesOf(List.of("l0.attn.weight")));
        }
    }

    /**
     * The check of the inputs done in pieces, in any order, as a distributed merge's executors do it
     * ({@link DistributedMerge#scanPart}, concluded once by {@link DistributedMerge#concludeScan}), gives what {@link DistributedMerge#validate} gives
     * in one piece: the same failure on a NaN, or with --allow-nonfinite the same warnings (NaN, and a model equal to
     * the base), and the same tensors for the method.
     */
    @Test
    void aCheckInPiecesConcludesAsTheWholeCheck() throws Exception {
        Path nan = dir.resolve("nan.safetensors");
        byte[] bytes = Files.readAllBytes(dir.resolve("m2.safetensors"));
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long dataStart = 8 + b.getLong(0);
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("m2.safetensors"))) {
            b.putFloat((int) (dataStart + f.tensor("l1.norm.weight").begin() + 8), Float.NaN);
            b.putFloat((int) (dataStart + f.tensor("l0.mlp.weight").begin()), Float.POSITIVE_INFINITY);
        }
        Files.write(nan, bytes);
        Path same = dir.resolve("same-as-base.safetensors");
        Files.copy(dir.resolve("m0.safetensors"), same, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        MergeSpec o = MergeSpec.builder(dir.resolve("m0.safetensors"), List.of(dir.resolve("m1.safetensors"),
                nan, same), dir.resolve("checked.safetensors")).threads(1).build();
        for (boolean allow : new boolean[] {false, true}) {
            Merger.Safety safety = new Merger.Safety(false, allow, new Cancellation());
            try (Backend cpu = Backends.cpu(1)) {
                List<String> whole = new ArrayList<>();
                String wholeFailure = null;
                List<DistributedMerge.MethodTensor> method = null;
                try {
                    method = new DistributedMerge(o, cpu, null, safety).validate(whole);
                } catch (dev.wudi.checkpoint.CheckpointException e) {
                    wholeFailure = e.getMessage();
                }
                DistributedMerge driver = new DistributedMerge(o, cpu, null, safety);
                DistributedMerge.Planned planned = driver.checkWithoutScan();
                List<InputScan.Findings> pieces = new ArrayList<>();
                List<DistributedMerge.MethodTensor> scanned = new ArrayList<>(planned.scanned());
                java.util.Collections.reverse(scanned);              // pieces finish in any order
                for (int i = 0; i < scanned.size(); i += 3) {
                    List<String> names = scanned.subList(i, Math.min(scanned.size(), i + 3)).stream()
                            .map(DistributedMerge.MethodTensor::name).toList();
                    pieces.add(new DistributedMerge(o, cpu, null, safety).scanPart(names));
                }
                if (!allow) {
                    assertTrue(wholeFailure != null && wholeFailure.contains("holds +Inf"), wholeFailure);
                    dev.wudi.checkpoint.CheckpointException e = assertThrows(
                            dev.wudi.checkpoint.CheckpointException.class, () -> driver.concludeScan(pieces));
                    assertEquals(wholeFailure, e.getMessage(), "the first non-finite value in plan order");
                } else {
                    assertEquals(3, whole.size(), "two non-finite tensors and a zero task vector: " + whole);
                    assertEquals(whole, driver.concludeScan(pieces));
                    assertEquals(method.stream().map(DistributedMerge.MethodTensor::name).toList(),
                            planned.method().stream().map(DistributedMerge.MethodTensor::name).toList());
                }
            }
        }
    }

    @Test
    void aPartOnlyHoldsTensorsTheMethodComputes() throws Exception {
        try (Backend cpu = Backends.cpu(1)) {
            MergeSpec o = options(false, "bad.safetensors").build();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new DistributedMerge(o, cpu, null, Merger.Safety.defaults()).computePart(List.of("l0.attn.bias"), dir.resolve("bad-part")));
            assertTrue(e.getMessage().contains("not one the method computes"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> new DistributedMerge(o, cpu, null, Merger.Safety.defaults()).computePart(List.of("nope.weight"), dir.resolve("bad-part")));
            assertTrue(e.getMessage().contains("has no tensor nope.weight"), e.getMessage());
        }
    }
}
