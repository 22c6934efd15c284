package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.Merger;
import dev.wudi.merge.TensorRecord;
import dev.wudi.solver.AdamConfig;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Progress in a pipe: a merge whose one tensor takes several seconds writes a status line (steps, seconds per step,
 * ETAs) at least every steady interval while it runs, and numbers the finished tensors without gaps.
 */
class ProgressTest {

    @TempDir
    Path tmp;

    /** Every line written, with the time it was completed. */
    static final class Lines extends OutputStream {
        final List<String> text = new ArrayList<>();
        final List<Long> at = new ArrayList<>();
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                text.add(line.toString(StandardCharsets.UTF_8));
                at.add(System.nanoTime());
                line.reset();
            } else {
                line.write(b);
            }
        }
    }

    private Path checkpoint(String name, long seed, int rows, int cols, boolean tiny) throws Exception {
        Path p = tmp.resolve(name + ".safetensors");
        List<SafetensorsWriter.TensorSpec> specs = List.of(
                new SafetensorsWriter.TensorSpec("a.weight", DType.F32, new long[] {8, 8}),
                new SafetensorsWriter.TensorSpec("b.weight", DType.F32, new long[] {rows, cols}),
                new SafetensorsWriter.TensorSpec("b.bias", DType.F32, new long[] {rows}),
                new SafetensorsWriter.TensorSpec("c.weight", DType.F32, new long[] {8, 8}));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of())) {
            for (SafetensorsWriter.TensorSpec s : specs) {
                int n = (int) (s.byteSize() / 4);
                SplittableRandom base = new SplittableRandom(s.name().hashCode());
                SplittableRandom task = new SplittableRandom(seed * 31 + s.name().hashCode());
                float[] v = new float[n];
                for (int j = 0; j < n; j++) {
                    v[j] = (float) (base.nextGaussian() * 0.02 + (tiny ? 0 : task.nextGaussian() * 0.001));
                }
                w.writeFloats(v, 0, n);
            }
            w.finish();
        }
        return p;
    }

    @Test
    void aLongTensorInAPipeWritesSteadyLines() throws Exception {
        int rows = 768;
        int cols = 768;
        Path base = checkpoint("base", 0, rows, cols, true);
        List<Path> models = List.of(checkpoint("m1", 1, rows, cols, false), checkpoint("m2", 2, rows, cols, false),
                checkpoint("m3", 3, rows, cols, false));
        Lines lines = new Lines();
        double steady = 0.5;
        long start;
        try (Backend cpu = Backends.cpu(1); // one thread, so the tensor takes seconds on any machine
             Progress p = new Progress(new PrintStream(lines, true, StandardCharsets.UTF_8), false, false, steady)) {
            MergeSpec o = MergeSpec.builder(base, models, tmp.resolve("out.safetensors"))
                    .adam(AdamConfig.paper().withIterations(800)).threads(1).build();
            start = System.nanoTime();
            new Merger(o, cpu, p).run();
        }
        long end = System.nanoTime();
        List<String> status = new ArrayList<>();
        List<Long> times = new ArrayList<>();
        times.add(start);
        for (int i = 0; i < lines.text.size(); i++) {
            times.add(lines.at.get(i));
            if (lines.text.get(i).contains("s/step")) {
                status.add(lines.text.get(i));
            }
        }
        times.add(end);
        double seconds = (end - start) / 1e9;
        assertTrue(seconds > 4 * steady, "the merge must outlast several intervals to test them: " + seconds + " s");
        for (int i = 1; i < times.size(); i++) {
            double gap = (times.get(i) - times.get(i - 1)) / 1e9;
            assertTrue(gap <= 2 * steady + 0.25, "a silence of " + gap + " s in a pipe (interval " + steady + " s):\n"
                    + String.join("\n", lines.text));
        }
        assertTrue(status.get(0).matches("wudi: b\\.weight: step \\d+/800, [0-9.e-]+ s/step, tensor ETA .*, merge ETA .*"),
                status.get(0));
        List<String> numbered = lines.text.stream().filter(l -> l.startsWith("[")).toList();
        assertEquals(3, numbered.size(), String.join("\n", lines.text));
        for (int i = 0; i < 3; i++) {
            assertTrue(numbered.get(i).startsWith("[" + (i + 1) + "/3] "), "counters without gaps: " + numbered);
        }
    }

    @Test
    void lossesOfEveryMagnitudeShowInOneFormat() {
        TensorRecord r = new TensorRecord("w", "wudi", new long[] {4, 4}, "F32", 1.648441e-9, 0.0, 0.01);
        // Java's %.6g writes zero as 0.00000, which reads as a small value rounded away beside 1.64844e-09
        assertEquals("[1/2] w wudi loss 1.64844e-09 -> 0 (0.01 s)", Progress.line(1, 2, r));
        MergeReport m = new MergeReport("wudi (adam)", "cpu", "out", List.of(r,
                new TensorRecord("v", "wudi", new long[] {4, 4}, "F32", 0.0062488, 0.00031, 0.01)), List.of(), 0.5, 64);
        assertTrue(Progress.summary(m).endsWith("summed over optimised tensors: 0.0062488 -> 0.00031"),
                Progress.summary(m));
    }
}
