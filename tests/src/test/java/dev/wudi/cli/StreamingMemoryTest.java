package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Memory is bounded by a few tensors, not by the model: three 256 MB checkpoints (768 MB of input)
 * merged with WUDI in a JVM whose heap is capped at 64 MB.
 */
class StreamingMemoryTest {

    static final int TENSORS = 64;
    static final int ROWS = 4096;
    static final int COLS = 256;

    @TempDir
    Path tmp;

    private static void write(Path file, long seed) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (int t = 0; t < TENSORS; t++) {
            specs.add(new TensorSpec("blocks." + t + ".mlp.weight", DType.F32, new long[] {ROWS, COLS}));
        }
        float[] row = new float[COLS];
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of())) {
            for (int t = 0; t < TENSORS; t++) {
                Random base = new Random(t);
                Random task = new Random(seed * 1000 + t);
                for (int r = 0; r < ROWS; r++) {
                    for (int c = 0; c < COLS; c++) {
                        row[c] = (float) (base.nextGaussian() * 0.05 + (seed == 0 ? 0 : task.nextGaussian() * 1e-3));
                    }
                    w.writeFloats(row, 0, COLS);
                }
            }
            w.finish();
        }
    }

    @Test
    void mergesCheckpointsMuchLargerThanTheHeap() throws Exception {
        Path base = tmp.resolve("base.safetensors");
        Path a = tmp.resolve("a.safetensors");
        Path b = tmp.resolve("b.safetensors");
        write(base, 0);
        write(a, 1);
        write(b, 2);
        long inputBytes = Files.size(base) + Files.size(a) + Files.size(b);
        long heap = 64L << 20;
        assertTrue(inputBytes > 10 * heap, "inputs " + inputBytes + " bytes vs heap " + heap);
        Path out = tmp.resolve("merged.safetensors");
        Cli.Result r = Cli.run(List.of("-Xmx64m", "-XX:MaxDirectMemorySize=64m"), "merge", "--base", base.toString(),
                "--model", a.toString(), "--model", b.toString(), "--out", out.toString(), "--iters", "3",
                "--threads", "2", "--quiet");
        assertEquals(0, r.exit(), r.toString());
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertEquals(TENSORS, f.tensors().size());
            TensorInfo last = f.tensor("blocks." + (TENSORS - 1) + ".mlp.weight");
            float[] v = new float[COLS];
            f.readFloats(last, (long) (ROWS - 1) * COLS, v, 0, COLS);
            for (float x : v) {
                assertTrue(Float.isFinite(x) && x != 0f);
            }
        }
        assertEquals(Files.size(base), Files.size(out), "same layout and dtype as the base");
    }
}
