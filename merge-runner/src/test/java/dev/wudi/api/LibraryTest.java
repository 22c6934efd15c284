package dev.wudi.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library's three levels: a whole-checkpoint merge with events and cancellation, one layer at a time (the same
 * bits as the whole-checkpoint merge of that tensor on the CPU), and the device listing.
 */
class LibraryTest {

    @TempDir
    Path tmp;

    static final int ROWS = 24;
    static final int COLS = 40;
    static final String[] NAMES = {"layers.0.attn.q_proj.weight", "layers.0.mlp.up_proj.weight", "layers.0.norm.weight"};

    /** W_0 (seed 0) or W_0 plus a task vector of RMS ~0.01 (seed k). */
    private static float[] values(String name, long seed, int count) {
        Random base = new Random(name.hashCode());
        Random task = new Random(seed * 7 + name.hashCode());
        float[] v = new float[count];
        for (int j = 0; j < count; j++) {
            v[j] = (float) (base.nextGaussian() * 0.1 + (seed == 0 ? 0 : task.nextGaussian() * 0.01));
        }
        return v;
    }

    private static long[] shape(String name) {
        return name.contains("norm") ? new long[] {ROWS} : new long[] {ROWS, COLS};
    }

    private Path checkpoint(String file, long seed) throws IOException {
        Path p = tmp.resolve(file);
        List<TensorSpec> specs = new ArrayList<>();
        for (String n : NAMES) {
            specs.add(new TensorSpec(n, DType.F32, shape(n)));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of())) {
            for (TensorSpec s : specs) {
                float[] v = values(s.name(), seed, (int) (s.byteSize() / 4));
                w.writeFloats(v, 0, v.length);
            }
            w.finish();
        }
        return p;
    }

    /** One tensor of a checkpoint as float32 (DefaultMergeTest reads its outputs with it too). */
    static float[] read(Path file, String name) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            float[] v = new float[(int) f.tensor(name).numel()];
            f.readFloats(f.tensor(name), 0, v, 0, v.length);
            return v;
        }
    }

    @Test
    void aLayerMergedAloneEqualsThatTensorOfTheCheckpointMergeBitForBit() throws Exception {
        Path base = checkpoint("base.safetensors", 0);
        List<Path> models = List.of(checkpoint("a.safetensors", 1), checkpoint("b.safetensors", 2),
                checkpoint("c.safetensors", 3));
        for (Solver solver : List.of(Solver.adam(1e-3, 20), Solver.exact())) {
            Path out = tmp.resolve("merged-" + solver.toString().hashCode() + ".safetensors");
            CheckpointMerge.builder(base, out).models(models).solver(solver).device("cpu").build().run();
            String name = NAMES[1];
            int n = ROWS * COLS;
            try (LayerMerge layer = LayerMerge.open("cpu", solver)) {
                LayerResult r = layer.merge(name, values(name, 0, n), List.of(values(name, 1, n), values(name, 2, n),
                        values(name, 3, n)), new long[] {ROWS, COLS}, WeightLayout.OUT_IN);
                assertArrayEquals(read(out, name), r.merged(), solver + ": per-layer API = checkpoint merge, bit for bit");
                assertTrue(r.lossAfter() < r.lossBefore(), solver + ": " + r.lossBefore() + " -> " + r.lossAfter());
                assertEquals("cpu", layer.device());
            }
        }
    }

    /**
     * The builder covers the command line's settings: any option that decides the output by its name and value, checked
     * as the command line checks it; a mergekit config as a starting point; the same bytes as the CLI's typed setters.
     */
    @Test
    void theBuilderTakesEveryOptionOfTheCommandLineCheckedTheSameWay() throws Exception {
        Path base = checkpoint("base.safetensors", 0);
        List<Path> models = List.of(checkpoint("a.safetensors", 1), checkpoint("b.safetensors", 2));
        Path typed = tmp.resolve("typed.safetensors");
        Path named = tmp.resolve("named.safetensors");
        CheckpointMerge.builder(base, typed).models(models).method("ties").density(0.5).scale(0.7).device("cpu")
                .build().run();
        CheckpointMerge.builder(base, named).models(models).method("ties").option("--density", "0.5")
                .option("--scale", "0.7").device("cpu").build().run();
        assertArrayEquals(Files.readAllBytes(typed), Files.readAllBytes(named), "option(name, value) = typed setter");
        assertEquals("--lr applies to --method wudi; the method here is ties", assertThrows(
                IllegalArgumentException.class, () -> CheckpointMerge.builder(base, named).models(models)
                        .method("ties").option("--lr", "1e-3").build()).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(base, named)
                .option("--device", "cpu")).getMessage().contains("not a setting of the merge"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(base, named)
                .option("--desnity", "0.5")).getMessage().startsWith("unknown option --desnity"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(base, named)
                .models(models).vocab("everything").build()).getMessage().contains("--vocab"));

        Path cfg = Files.writeString(tmp.resolve("ties.yml"), "merge_method: ties\nbase_model: " + base
                + "\nmodels:\n  - model: " + models.get(0) + "\n    parameters: {weight: 1.0, density: 0.5}\n"
                + "  - model: " + models.get(1) + "\n    parameters: {weight: 1.0, density: 0.5}\n"
                + "parameters: {lambda: 0.7}\n");
        Path fromConfig = tmp.resolve("from-config.safetensors");
        CheckpointMerge.fromConfig(cfg, fromConfig).device("cpu").build().run();
        assertArrayEquals(Files.readAllBytes(typed), Files.readAllBytes(fromConfig), "the config's merge, as the CLI's");
        assertThrows(IllegalStateException.class, () -> CheckpointMerge.fromConfig(cfg, fromConfig).model(base));

        // settings given over the config replace its per-model density and its lambda, as `wudi mergekit-yaml` does
        Path typedOver = tmp.resolve("typed-over.safetensors");
        CheckpointMerge.builder(base, typedOver).models(models).method("ties").density(0.8).scale(0.3).device("cpu")
                .build().run();
        Path over = tmp.resolve("over-config.safetensors");
        CheckpointMerge.fromConfig(cfg, over).density(0.8).option("--scale", "0.3").device("cpu").build().run();
        assertArrayEquals(Files.readAllBytes(typedOver), Files.readAllBytes(over),
                "density and scale given over a config replace its per-model values");
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(typed), Files.readAllBytes(over)));
    }

    @Test
    void aConv1DLayerIsMergedAsItsTransposeAndReturnedAsStored() {
        int n = ROWS * COLS;
        String name = NAMES[0];
        List<float[]> outIn = List.of(values(name, 0, n), values(name, 1, n), values(name, 2, n));
        List<float[]> inOut = new ArrayList<>();
        for (float[] w : outIn) {
            inOut.add(transpose(w, ROWS, COLS));
        }
        try (LayerMerge layer = LayerMerge.open("cpu", Solver.adam(1e-3, 20))) {
            LayerResult plain = layer.merge(name, outIn.get(0), outIn.subList(1, 3), new long[] {ROWS, COLS},
                    WeightLayout.OUT_IN);
            LayerResult conv = layer.merge(name, inOut.get(0), inOut.subList(1, 3), new long[] {COLS, ROWS},
                    WeightLayout.IN_OUT);
            assertArrayEquals(transpose(plain.merged(), ROWS, COLS), conv.merged());
            assertEquals(plain.lossAfter(), conv.lossAfter(), 0.0);
        }
    }

    private static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = m[i * cols + j];
            }
        }
        return t;
    }

    @Test
    void buffersHeapOrDirectGiveTheSameLayerAsArraysAndKeepTheirPositions() {
        int n = ROWS * COLS;
        String name = NAMES[1];
        float[] w0 = values(name, 0, n);
        float[] w1 = values(name, 1, n);
        float[] w2 = values(name, 2, n);
        FloatBuffer direct = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer().put(w1);
        direct.flip();
        FloatBuffer padded = FloatBuffer.allocate(n + 5);
        padded.position(5);
        padded.put(w2).position(5);
        try (LayerMerge layer = LayerMerge.open("cpu", Solver.exact())) {
            float[] arrays = layer.merge(name, w0, List.of(w1, w2), new long[] {ROWS, COLS}, WeightLayout.OUT_IN).merged();
            float[] buffers = layer.merge(name, FloatBuffer.wrap(w0), List.of(direct, padded), new long[] {ROWS, COLS},
                    WeightLayout.OUT_IN).merged();
            assertArrayEquals(arrays, buffers);
            assertEquals(0, direct.position());
            assertEquals(5, padded.position());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> layer.merge(name, w0,
                    List.of(new float[7]), new long[] {ROWS, COLS}, WeightLayout.OUT_IN));
            assertEquals(name + ": the fine-tuned weight 0 holds 7 values; shape [24, 40] needs 960", e.getMessage());
        }
    }

    @Test
    void taskVectorsGiveTauMItself() {
        int n = ROWS * COLS;
        String name = NAMES[1];
        float[] w0 = values(name, 0, n);
        List<float[]> w = List.of(values(name, 1, n), values(name, 2, n));
        List<float[]> tau = new ArrayList<>();
        for (float[] wi : w) {
            float[] t = new float[n];
            for (int j = 0; j < n; j++) {
                t[j] = wi[j] - w0[j];
            }
            tau.add(t);
        }
        try (LayerMerge layer = LayerMerge.open("cpu", Solver.exact())) {
            LayerResult fromTau = layer.mergeTaskVectors(name, tau, new long[] {ROWS, COLS}, WeightLayout.OUT_IN);
            LayerResult fromWeights = layer.merge(name, w0, w, new long[] {ROWS, COLS}, WeightLayout.OUT_IN);
            for (int j = 0; j < n; j++) {
                // W = W_0 + tau_m: float32 rounding of the weights (|W| ~ 0.3) against tau_m (~0.02)
                assertEquals(fromWeights.merged()[j] - w0[j], fromTau.merged()[j], 1e-7f);
            }
        }
    }

    @Test
    void aCheckpointMergeReportsEveryTensorThroughItsEventsAndCanBeCancelled() throws Exception {
        Path base = checkpoint("base.safetensors", 0);
        List<Path> models = List.of(checkpoint("a.safetensors", 1), checkpoint("b.safetensors", 2));
        List<String> seen = new ArrayList<>();
        Path out = tmp.resolve("events.safetensors");
        MergeResult r = CheckpointMerge.builder(base, out).models(models).device("cpu").events(new MergeEvents() {
            @Override
            public void started(int tensors, int optimised, double estimatedSeconds) {
                seen.add("started " + tensors + " " + optimised);
            }

            @Override
            public void tensorDone(TensorResult t) {
                seen.add(t.name() + " " + t.method() + " " + t.hasLoss());
            }
        }).build().run();
        assertEquals(List.of("started 3 2", NAMES[0] + " wudi true", NAMES[1] + " wudi true", NAMES[2] + " average false"),
                seen);
        assertEquals(out, r.out());
        assertEquals("wudi (spectral exponential (data-free default), scale auto)", CheckpointMerge.builder(base, out)
                .models(models).build().describe());
        assertEquals(2, r.optimisedCount());
        assertTrue(r.totalLossAfter() < r.totalLossBefore());
        assertTrue(r.toJson().contains("\"tensors\""));
        assertTrue(Files.exists(out));

        Path cancelled = tmp.resolve("cancelled.safetensors");
        CheckpointMerge[] merge = new CheckpointMerge[1];
        merge[0] = CheckpointMerge.builder(base, cancelled).models(models).device("cpu").events(new MergeEvents() {
            @Override
            public void tensorDone(TensorResult t) {
                merge[0].cancel();                     // as another thread would, after the first tensor
            }
        }).build();
        assertThrows(CancellationException.class, merge[0]::run);
        assertFalse(Files.exists(cancelled), "nothing under the final name");
        assertThrows(IllegalStateException.class, merge[0]::run, "a CheckpointMerge runs once");
    }

    @Test
    void mistakesAreIllegalArgumentsNamingWhatIsWrong() {
        Path p = tmp.resolve("x");
        assertEquals("at least one model is needed",
                assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(p, p).build()).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(p, p).method("nope"))
                .getMessage().startsWith("unknown method 'nope'"));
        assertThrows(IllegalArgumentException.class, () -> Solver.adam(-1, 10));
        assertThrows(IllegalArgumentException.class, () -> LayerMerge.open("tpu", Solver.adam()));
        // the same ranges as the command line's and a mergekit config's
        assertEquals("scale must be a finite number (float32: |x| <= 3.4e38), got Infinity", assertThrows(
                IllegalArgumentException.class, () -> CheckpointMerge.builder(p, p).scale(Double.POSITIVE_INFINITY)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(p, p).scale(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(p, p).scale(1e39));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(p, p).density(1.5))
                .getMessage().startsWith("density must be a number in (0, 1]"));
        assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(p, p).density(0));
    }

    @Test
    void devicesListTheCpuAndSayWhyThereIsNoGpu() {
        List<DeviceStatus> ds = Devices.list();
        assertEquals("cpu", ds.get(0).name());
        assertTrue(ds.get(0).usable());
        for (DeviceStatus d : ds.subList(1, ds.size())) {
            assertTrue(d.name().startsWith("cuda"));
            assertTrue(d.usable() == d.whyNot().isEmpty(), d.toString());
        }
    }
}
