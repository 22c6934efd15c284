package dev.wudi.format;

import dev.wudi.format.SafetensorsWriter.TensorSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writer and reader together: every dtype, metadata, padding, ranges, windows, threads. */
class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    private static float[] randomFloats(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    private static byte[] randomBytes(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) rnd.nextInt(256);
        }
        return b;
    }

    /** What a value looks like after a trip through dt. */
    private static float stored(DType dt, float v) {
        return switch (dt) {
            case F16 -> Floats.halfToFloat(Floats.floatToHalf(v));
            case BF16 -> Floats.bf16ToFloat(Floats.floatToBf16(v));
            default -> v;
        };
    }

    private static TensorSpec spec(String name, DType dt, long... shape) {
        return new TensorSpec(name, dt, shape);
    }

    @Test
    void everyDtypeRoundTripsWithMetadataAndZeroSizeTensor() throws IOException {
        Path p = dir.resolve("model.safetensors");
        List<TensorSpec> specs = List.of(
                spec("a.f32", DType.F32, 3, 5),
                spec("b.f16", DType.F16, 7),
                spec("empty", DType.F32, 4, 0),
                spec("c.bf16", DType.BF16, 2, 3),
                spec("ids", DType.I64, 3),
                spec("mask", DType.BOOL, 5),
                spec("d.f64", DType.F64, 2),
                spec("pixels", DType.U8, 3),
                spec("scalar", DType.F32));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("merged.by", "wudi ü"); // non-ASCII survives
        float[] a = randomFloats(15, 1);
        float[] b = randomFloats(7, 2);
        float[] c = randomFloats(6, 3);
        byte[] ids = randomBytes(24, 4);
        byte[] mask = {0, 1, 1, 0, 1};
        byte[] f64 = randomBytes(16, 5);
        byte[] pixels = {(byte) 255, 0, 17};

        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, metadata)) {
            w.writeFloats(a, 0, 10);        // a tensor in several calls
            w.writeFloats(a, 10, 5);
            w.writeFloats(b, 0, 7);
            w.writeFloats(c, 0, 6);         // passes over the zero-size tensor
            w.write(ByteBuffer.wrap(ids));
            w.write(ByteBuffer.wrap(concat(mask, f64, pixels))); // raw bytes across tensor boundaries
            w.writeFloats(new float[]{42.5f}, 0, 1);
            w.finish();
        }

        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(metadata, f.metadata());
            assertEquals(List.of("format", "merged.by"), new ArrayList<>(f.metadata().keySet()));
            List<String> names = f.tensors().stream().map(TensorInfo::name).toList();
            assertEquals(List.of("a.f32", "b.f16", "empty", "c.bf16", "ids", "mask", "d.f64", "pixels", "scalar"), names);
            for (TensorSpec s : specs) {
                TensorInfo t = f.tensor(s.name());
                assertEquals(s.dtype(), t.dtype());
                assertArrayEquals(s.shape(), t.shape());
                assertEquals(s.byteSize(), t.byteSize());
            }
            checkFloats(f, "a.f32", a);
            checkFloats(f, "b.f16", b);
            checkFloats(f, "c.bf16", c);
            checkFloats(f, "empty", new float[0]);
            checkFloats(f, "scalar", new float[]{42.5f});
            assertArrayEquals(ids, bytes(f, "ids"));
            assertArrayEquals(mask, bytes(f, "mask"));
            assertArrayEquals(f64, bytes(f, "d.f64"));
            assertArrayEquals(pixels, bytes(f, "pixels"));

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> f.readFloats(f.tensor("ids"), 0, new float[3], 0, 3));
            assertTrue(e.getMessage().contains("ids") && e.getMessage().contains("I64"), e::getMessage);
        }
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(java.util.Arrays.stream(parts).mapToInt(x -> x.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    private static void checkFloats(SafetensorsFile f, String name, float[] written) throws IOException {
        TensorInfo t = f.tensor(name);
        float[] back = new float[written.length];
        f.readFloats(t, 0, back, 0, back.length);
        for (int i = 0; i < written.length; i++) {
            assertEquals(stored(t.dtype(), written[i]), back[i], name + "[" + i + "]");
        }
    }

    private static byte[] bytes(SafetensorsFile f, String name) throws IOException {
        TensorInfo t = f.tensor(name);
        ByteBuffer b = ByteBuffer.allocate((int) t.byteSize());
        f.readBytes(t, 0, b);
        return b.array();
    }

    @Test
    void headerIsPaddedWithSpacesToAMultipleOfEight() throws IOException {
        for (int nameLength = 1; nameLength <= 9; nameLength++) {
            Path p = dir.resolve("pad" + nameLength + ".safetensors");
            String name = "t".repeat(nameLength);
            try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(spec(name, DType.F32, 1)), Map.of())) {
                w.writeFloats(new float[]{1f}, 0, 1);
                w.finish();
            }
            byte[] file = Files.readAllBytes(p);
            long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, (8 + n) % 8, "8 + N = " + (8 + n));
            assertEquals(8 + n + 4, file.length);
            String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
            String json = header.stripTrailing();
            assertTrue(json.endsWith("}"), header);
            assertTrue(header.substring(json.length()).chars().allMatch(ch -> ch == ' '), header);
            assertFalse(header.contains("__metadata__"), "empty metadata is left out: " + header);
        }
    }

    @Test
    void emptyFileRoundTrips() throws IOException {
        Path p = dir.resolve("empty.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(), Map.of())) {
            w.finish();
        }
        assertEquals(16, Files.size(p)); // 8 + "{}" padded to 8
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.tensors().isEmpty());
            assertTrue(f.metadata().isEmpty());
        }
    }

    /** A file with an odd-sized first tensor, so later elements are not aligned to their size. */
    private Path unalignedFile(int n) throws IOException {
        Path p = dir.resolve("ranges.safetensors");
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.5f - 100;
        }
        List<TensorSpec> specs = List.of(spec("odd", DType.U8, 3), spec("w32", DType.F32, n),
                spec("w16", DType.F16, n), spec("wb16", DType.BF16, n));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of())) {
            w.write(ByteBuffer.wrap(new byte[]{1, 2, 3}));
            for (int k = 0; k < 3; k++) {
                w.writeFloats(v, 0, n);
            }
            w.finish();
        }
        return p;
    }

    @Test
    void readFloatsAtArbitraryRangesAcrossMappingWindows() throws IOException {
        int n = 1000;
        Path p = unalignedFile(n);
        SplittableRandom rnd = new SplittableRandom(11);
        // 7- and 13-byte windows split elements between windows; the default maps it in one
        for (int window : new int[]{7, 13, 64, MappedData.DEFAULT_WINDOW}) {
            try (SafetensorsFile f = SafetensorsFile.open(p, window)) {
                for (String name : new String[]{"w32", "w16", "wb16"}) {
                    TensorInfo t = f.tensor(name);
                    for (int trial = 0; trial < 50; trial++) {
                        int first = rnd.nextInt(n + 1);
                        int count = rnd.nextInt(n - first + 1);
                        float[] dst = new float[count + 2];
                        f.readFloats(t, first, dst, 1, count);
                        for (int i = 0; i < count; i++) {
                            assertEquals(stored(t.dtype(), (first + i) * 0.5f - 100), dst[1 + i], name + "[" + (first + i) + "] window " + window);
                        }
                    }
                    assertThrows(IndexOutOfBoundsException.class, () -> f.readFloats(t, n - 1, new float[2], 0, 2));
                    assertThrows(IndexOutOfBoundsException.class, () -> f.readFloats(t, -1, new float[1], 0, 1));
                }
                ByteBuffer raw = ByteBuffer.allocate(3);
                f.readBytes(f.tensor("odd"), 0, raw);
                assertArrayEquals(new byte[]{1, 2, 3}, raw.array());
                ByteBuffer tail = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                f.readBytes(f.tensor("w32"), 4L * (n - 2), tail);
                assertEquals((n - 2) * 0.5f - 100, tail.getFloat(0));
                assertEquals((n - 1) * 0.5f - 100, tail.getFloat(4));
                assertThrows(IndexOutOfBoundsException.class,
                        () -> f.readBytes(f.tensor("odd"), 1, ByteBuffer.allocate(3)));
            }
        }
    }

    @Test
    void concurrentReadersAgree() throws Exception {
        int n = 1000;
        Path p = unalignedFile(n);
        try (SafetensorsFile f = SafetensorsFile.open(p, 13)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> jobs = new ArrayList<>();
                for (int job = 0; job < 8; job++) {
                    String name = job % 2 == 0 ? "w16" : "w32";
                    jobs.add(pool.submit(() -> {
                        TensorInfo t = f.tensor(name);
                        float[] dst = new float[n];
                        for (int rep = 0; rep < 100; rep++) {
                            f.readFloats(t, 0, dst, 0, n);
                            for (int i = 0; i < n; i++) {
                                assertEquals(stored(t.dtype(), i * 0.5f - 100), dst[i]);
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> j : jobs) {
                    j.get();
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void readsRejectForeignTensorsAndClosedFiles() throws IOException {
        Path p = unalignedFile(10);
        SafetensorsFile f = SafetensorsFile.open(p);
        TensorInfo stranger = new TensorInfo("w32", DType.F32, new long[]{10}, 0, 40);
        assertThrows(IllegalArgumentException.class, () -> f.readFloats(stranger, 0, new float[1], 0, 1));
        TensorInfo t = f.tensor("w32");
        f.close();
        assertThrows(IllegalStateException.class, () -> f.readFloats(t, 0, new float[1], 0, 1));
    }

    @Test
    void largeRawWritesBypassTheBufferInOrder() throws IOException {
        Path p = dir.resolve("raw.safetensors");
        byte[] small = randomBytes(5, 21);
        byte[] large = randomBytes((5 << 20) + 3, 22); // larger than the writer's buffer
        try (SafetensorsWriter w = SafetensorsWriter.create(p,
                List.of(spec("small", DType.U8, small.length), spec("large", DType.U8, large.length),
                        spec("after", DType.F32, 1)), Map.of())) {
            w.write(ByteBuffer.wrap(small));
            w.write(ByteBuffer.wrap(large));
            w.writeFloats(new float[]{3f}, 0, 1);
            w.finish();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(small, bytes(f, "small"));
            assertArrayEquals(large, bytes(f, "large"));
            checkFloats(f, "after", new float[]{3f});
        }
    }

    // ---------------------------------------------------------------- writer refusals

    @Test
    void writerRefusesToWritePastTheLastTensor() throws IOException {
        Path p = dir.resolve("over.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(spec("x", DType.F16, 2)), Map.of())) {
            w.writeFloats(new float[]{1, 2}, 0, 2);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> w.writeFloats(new float[]{3}, 0, 1));
            assertTrue(e.getMessage().contains("over.safetensors"), e::getMessage);
            assertThrows(IllegalStateException.class, () -> w.write(ByteBuffer.allocate(1)));
            w.finish();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            float[] back = new float[2];
            f.readFloats(f.tensor("x"), 0, back, 0, 2);
            assertArrayEquals(new float[]{1, 2}, back);
        }
    }

    @Test
    void writerRefusesFloatsIntoIntegerTensorsAndMisalignedWrites() throws IOException {
        Path p = dir.resolve("types.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p,
                List.of(spec("ids", DType.I64, 1), spec("w", DType.F32, 2)), Map.of())) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> w.writeFloats(new float[]{1}, 0, 1));
            assertTrue(e.getMessage().contains("ids"), e::getMessage);
            w.write(ByteBuffer.allocate(10)); // 8 bytes of ids, 2 of w
            assertThrows(IllegalStateException.class, () -> w.writeFloats(new float[]{1}, 0, 1));
        }
        assertFalse(Files.exists(p));
    }

    @Test
    void unfinishedOutputIsDeleted() throws IOException {
        Path p = dir.resolve("partial.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(spec("a", DType.F32, 4), spec("b", DType.F32, 1)),
                Map.of())) {
            w.writeFloats(new float[]{1, 2, 3, 4}, 0, 4);
            IllegalStateException e = assertThrows(IllegalStateException.class, w::finish);
            assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("partial.safetensors"), e::getMessage);
            assertTrue(Files.exists(p));
        }
        assertFalse(Files.exists(p), "close() without finish() must delete the partial file");
    }

    @Test
    void writerRejectsDuplicateNames() {
        Path p = dir.resolve("dup.safetensors");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.create(p,
                List.of(spec("w", DType.F32, 1), spec("w", DType.F16, 1)), Map.of()));
        assertTrue(e.getMessage().contains("'w'"), e::getMessage);
        assertFalse(Files.exists(p));
    }

    @Test
    void writerOverwritesAnExistingFile() throws IOException {
        Path p = dir.resolve("again.safetensors");
        Files.write(p, new byte[10_000]);
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(spec("w", DType.BF16, 1)), Map.of())) {
            w.writeFloats(new float[]{0.25f}, 0, 1);
            w.finish();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            float[] back = new float[1];
            f.readFloats(f.tensor("w"), 0, back, 0, 1);
            assertEquals(0.25f, back[0]);
        }
    }
}
