package dev.wudi.format;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Files past 2 GiB (sparse, so cheap) and the shared digits6 fixture. */
class SafetensorsLargeAndFixtureTest {

    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    @Test
    void readsAcrossOneGibWindowsInAFileLargerThan2Gib() throws IOException {
        Assumptions.assumeTrue(Files.getFileStore(dir).getUsableSpace() > 4 * GIB,
                "needs room for a 3 GiB file in " + dir + " should the file system not keep it sparse");
        // "big" ends 6 bytes before the 3 GiB window boundary, so tail's second F32 straddles it
        long bigSize = 3 * GIB - 6;
        String json = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + bigSize + "],\"data_offsets\":[0," + bigSize + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[" + bigSize + "," + (bigSize + 16) + "]}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        long dataStart = 8 + header.length;
        Path p = dir.resolve("large.safetensors");
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer head = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(header.length).put(header).flip();
            ch.write(head, 0);
            // a marker across the first window boundary and one past 2^31, the rest left as holes
            ch.write(ByteBuffer.wrap(new byte[]{1, 2, 3, 4}), dataStart + GIB - 2);
            ch.write(ByteBuffer.wrap(new byte[]{9, 8, 7}), dataStart + 2 * GIB + 100);
            ByteBuffer tail = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            tail.putFloat(1.5f).putFloat(-2.25f).putFloat(1e30f).putFloat(7f).flip();
            ch.write(tail, dataStart + bigSize);
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            TensorInfo big = f.tensor("big");
            assertEquals(bigSize, big.byteSize());
            ByteBuffer b = ByteBuffer.allocate(6);
            f.readBytes(big, GIB - 3, b);
            assertArrayEquals(new byte[]{0, 1, 2, 3, 4, 0}, b.array());
            ByteBuffer c = ByteBuffer.allocate(3);
            f.readBytes(big, 2 * GIB + 100, c);
            assertArrayEquals(new byte[]{9, 8, 7}, c.array());

            float[] v = new float[4];
            f.readFloats(f.tensor("tail"), 0, v, 0, 4);
            assertArrayEquals(new float[]{1.5f, -2.25f, 1e30f, 7f}, v);
        }
    }

    /** The repository's fixtures (tests/fixtures), from this module's folder. */
    static Path fixtures() {
        return Path.of("..", "tests", "fixtures");
    }

    @Test
    void readsTheDigits6BaseFixture() throws IOException {
        Path base = fixtures().resolve("digits6/base.safetensors");
        assertTrue(Files.isRegularFile(base), "part of the repository: " + base);
        try (SafetensorsFile f = SafetensorsFile.open(base)) {
            List<String> expected = List.of("enc.fc1.weight", "enc.fc1.bias", "enc.fc2.weight", "enc.fc2.bias",
                    "enc.fc3.weight", "enc.fc3.bias");
            long[][] shapes = {{256, 64}, {256}, {256, 256}, {256}, {128, 256}, {128}};
            assertEquals(expected.size(), f.tensors().size());
            for (int i = 0; i < expected.size(); i++) {
                TensorInfo t = f.tensor(expected.get(i));
                assertArrayEquals(shapes[i], t.shape(), t.name());
                assertTrue(t.dtype().mergeable(), t.toString());
                float[] values = new float[Math.toIntExact(t.numel())];
                f.readFloats(t, 0, values, 0, values.length);
                for (float x : values) {
                    assertTrue(Float.isFinite(x), t.name());
                }
            }
        }
    }
}
