package dev.wudi.format;

import dev.wudi.format.SafetensorsWriter.TensorSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Mutated files either open or fail with a SafetensorsException: never another exception, and a file
 * that opens can be read in full.
 */
class SafetensorsFuzzTest {

    @TempDir
    Path dir;

    @Test
    void mutatedFilesOpenCleanlyOrFailWithAKind() throws IOException {
        Path valid = dir.resolve("valid.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(valid, List.of(
                new TensorSpec("a", DType.F32, new long[]{2, 3}),
                new TensorSpec("b", DType.BF16, new long[]{5}),
                new TensorSpec("c", DType.I64, new long[]{1}),
                new TensorSpec("d", DType.F16, new long[]{0})), Map.of("k", "v"))) {
            w.writeFloats(new float[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0, 11);
            w.write(ByteBuffer.allocate(8));
            w.finish();
        }
        byte[] original = Files.readAllBytes(valid);
        SplittableRandom rnd = new SplittableRandom(99);
        Path p = dir.resolve("mutant.safetensors");
        int opened = 0;
        for (int trial = 0; trial < 2000; trial++) {
            byte[] b = mutate(original, rnd);
            Files.write(p, b);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                opened++;
                for (TensorInfo t : f.tensors()) {
                    f.readBytes(t, 0, ByteBuffer.allocate((int) t.byteSize()));
                    if (t.dtype().mergeable()) {
                        f.readFloats(t, 0, new float[(int) t.numel()], 0, (int) t.numel());
                    }
                }
            } catch (SafetensorsException expected) {
                // the point: a kind, not a crash
            } catch (RuntimeException | IOException e) {
                throw new AssertionError("trial " + trial + ": " + e + " for "
                        + new String(b, StandardCharsets.ISO_8859_1), e);
            }
        }
        // mutations of data bytes leave the file valid, so some must have opened
        if (opened == 0) {
            throw new AssertionError("no mutant opened; the mutations are too destructive to test reads");
        }
    }

    private static byte[] mutate(byte[] original, SplittableRandom rnd) {
        byte[] b = original.clone();
        switch (rnd.nextInt(4)) {
            case 0 -> b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);          // any byte
            case 1 -> {                                                           // a digit in the header
                int i = 8 + rnd.nextInt(b.length - 8);
                if (Character.isDigit(b[i])) {
                    b[i] = (byte) ('0' + rnd.nextInt(10));
                }
            }
            case 2 -> b = Arrays.copyOf(b, rnd.nextInt(b.length + 16));         // truncate or extend
            default -> b[rnd.nextInt(8)] = (byte) rnd.nextInt(256);             // the length prefix
        }
        return b;
    }
}
