package dev.wudi.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.BackendParityTest;
import dev.wudi.backend.CapabilityCheck;
import dev.wudi.backend.DeviceMemoryException;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.WudiResult;
import dev.wudi.backend.reference.GramFormReference;
import dev.wudi.cuda.ProbeResult;
import dev.wudi.cuda.reference.HalfPrecision;
import dev.wudi.cuda.reference.TaskVectorReference;
import dev.wudi.format.DType;
import dev.wudi.format.Floats;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.GramMatrices;
import dev.wudi.solver.spectral.LapackEigen;
import dev.wudi.solver.spectral.SpectralFilter;
import dev.wudi.solver.spectral.SpectralSolver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * CudaWudiProblem against the plain Java oracle ({@link GramFormReference}) on random shapes. Needs a GPU:
 * skipped, with the probe's reason, everywhere else.
 */
class CudaWudiProblemGpuTest {

    private static Backend gpu;

    /** Per test, so that every skipped test carries the probe's reason in the report. */
    @BeforeEach
    void needGpu() {
        ProbeResult r = CudaBackends.probe();
        Assumptions.assumeTrue(r.available(), r.reason());
        if (gpu == null) {
            gpu = CudaBackends.open(0, false);
        }
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    /** The merge loop trusts the abilities the GPU lists instead of types: each works, with the plain path's bits. */
    @Test
    void offersWhatItsCapabilitiesList() {
        CapabilityCheck.assertOffersWhatItLists(gpu);
    }

    static List<float[]> tasks(int count, int rows, int cols, long seed) {
        return BackendParityTest.tasks(count, rows, cols, seed);
    }

    static WudiResult solve(Backend b, int rows, int cols, List<float[]> taus, AdamConfig cfg) {
        try (WudiProblem p = b.newProblem("test.weight", rows, cols)) {
            for (float[] t : taus) {
                p.addTaskVector(t);
            }
            assertEquals(taus.size(), p.taskCount());
            return p.solveAdam(cfg, null);
        }
    }

    /** ||(a - base) - (b - base)|| / ||b - base||: compares the displacement from the start, what Adam changed. */
    static double relativeDisplacementError(float[] got, float[] want, float[] base) {
        double num = 0, den = 0;
        for (int e = 0; e < got.length; e++) {
            double dw = (double) want[e] - base[e];
            num += Math.pow((double) got[e] - want[e], 2);
            den += dw * dw;
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    @ParameterizedTest(name = "[{0} x {1}] x {2} tasks")
    @CsvSource({"1, 1, 1", "5, 3, 2", "3, 17, 3", "64, 48, 4", "33, 130, 8", "257, 31, 3", "3, 2, 70"})  // 70 > the 64 K slots
    void matchesTheReferenceSolver(int rows, int cols, int count) {
        List<float[]> taus = tasks(count, rows, cols, rows * 1000L + cols);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-3f).withIterations(40);
        WudiResult got = solve(gpu, rows, cols, taus, cfg);
        GramFormReference.Solution want = GramFormReference.solve(rows, cols, taus, cfg);
        float[] sum = new float[rows * cols];
        for (float[] t : taus) {
            for (int e = 0; e < sum.length; e++) {
                sum[e] += t[e];
            }
        }
        assertEquals(want.lossBefore(), got.lossBefore(), 1e-4 * Math.abs(want.lossBefore()) + 1e-9);
        assertEquals(want.lossAfter(), got.lossAfter(), 1e-3 * Math.abs(want.lossAfter()) + 1e-9);
        double err = relativeDisplacementError(got.tauM(), want.tauM(), sum);
        assertTrue(err < 1e-2, "displacement error " + err);
        assertEquals(cfg.iterations(), got.steps());
    }

    /**
     * A whole merge of a GPT-2-shaped folder (config.json model_type gpt2: Conv1D weights [in, out], turned on the
     * host) with an nn.Linear weight between them (the raw-bytes path and the overlapped uploads) and a stack of
     * experts (one problem per expert) gives, tensor by tensor, what the CPU backend gives, within the parity
     * bound of {@link #matchesTheReferenceSolver}.
     */
    @Test
    void layoutsMergeOnTheGpuAsOnTheCpu() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("wudi-gpu-layouts");
        try {
            String[] names = {"h.0.attn.c_attn.weight", "h.0.lin.weight", "h.0.mlp.experts.down_proj", "h.0.mlp.c_fc.weight"};
            long[][] shapes = {{48, 96}, {40, 48}, {3, 40, 24}, {48, 64}};
            List<java.nio.file.Path> ckpts = new ArrayList<>();
            for (int m = 0; m < 4; m++) {
                java.nio.file.Path d = java.nio.file.Files.createDirectories(dir.resolve("m" + m));
                java.nio.file.Files.writeString(d.resolve("config.json"), "{\"model_type\": \"gpt2\"}");
                dev.wudi.checkpoint.TaskCheckpoints.write(d.resolve("model.safetensors"), names, shapes, m, 100);
                ckpts.add(d);
            }
            java.util.Map<String, float[]> onGpu = mergeWith(gpu, ckpts, dir.resolve("gpu"));
            java.util.Map<String, float[]> onCpu;
            try (Backend cpu = dev.wudi.backend.Backends.cpu(0)) {
                onCpu = mergeWith(cpu, ckpts, dir.resolve("cpu"));
            }
            float[] base0;
            for (String n : names) {
                try (dev.wudi.checkpoint.Checkpoint b = dev.wudi.checkpoint.Checkpoint.open(ckpts.get(0))) {
                    base0 = new float[(int) b.tensor(n).info().numel()];
                    b.tensor(n).readAll(base0);
                }
                double err = relativeDisplacementError(onGpu.get(n), onCpu.get(n), base0);
                assertTrue(err < 1e-2, n + ": displacement error " + err);
            }
        } finally {
            try (java.util.stream.Stream<java.nio.file.Path> s = java.nio.file.Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * LoRA adapters over a GPT-2-like base (a Conv1D c_attn with fan_in_fan_out, an nn.Linear between): their exact
     * deltas go through the host path on the GPU (not the raw-bytes path, which would form W_i - W_0 there) and the
     * merge equals the CPU backend's within the parity bound.
     */
    @Test
    void adaptersMergeOnTheGpuAsOnTheCpu() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("wudi-gpu-lora");
        try {
            java.nio.file.Path base = java.nio.file.Files.createDirectories(dir.resolve("base"));
            java.nio.file.Files.writeString(base.resolve("config.json"), "{\"model_type\": \"gpt2\"}");
            String[] names = {"h.0.attn.c_attn.weight", "h.0.lin.weight"};
            long[][] shapes = {{48, 96}, {40, 48}};
            writeRandom(base.resolve("model.safetensors"), names, shapes, 0, 0.2);
            List<java.nio.file.Path> adapters = new ArrayList<>();
            for (int m = 1; m <= 3; m++) {
                java.nio.file.Path a = java.nio.file.Files.createDirectories(dir.resolve("lora" + m));
                java.nio.file.Files.writeString(a.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 2,"
                        + " \"lora_alpha\": " + (2 * m) + ", \"fan_in_fan_out\": true}");
                String p = "base_model.model.h.0.";
                writeRandom(a.resolve("adapter_model.safetensors"),
                        new String[] {p + "attn.c_attn.lora_A.weight", p + "attn.c_attn.lora_B.weight",
                            p + "lin.lora_A.weight", p + "lin.lora_B.weight"},
                        new long[][] {{2, 48}, {96, 2}, {2, 48}, {40, 2}}, 10L * m, 0.1);
                adapters.add(a);
            }
            List<java.nio.file.Path> inputs = new ArrayList<>();
            inputs.add(base);
            inputs.addAll(adapters);
            java.util.Map<String, float[]> onGpu = mergeWith(gpu, inputs, dir.resolve("gpu"), false);
            java.util.Map<String, float[]> onCpu;
            try (Backend cpu = dev.wudi.backend.Backends.cpu(0)) {
                onCpu = mergeWith(cpu, inputs, dir.resolve("cpu"), false);
            }
            try (dev.wudi.checkpoint.Checkpoint b = dev.wudi.checkpoint.Checkpoint.open(base)) {
                for (String n : names) {
                    float[] base0 = new float[(int) b.tensor(n).info().numel()];
                    b.tensor(n).readAll(base0);
                    double err = relativeDisplacementError(onGpu.get(n), onCpu.get(n), base0);
                    assertTrue(err < 1e-2, n + ": displacement error " + err);
                }
            }
        } finally {
            try (java.util.stream.Stream<java.nio.file.Path> s = java.nio.file.Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * The exact solver without a ridge needs C in double, which this backend does not form: a merge asked for on the
     * GPU runs WUDI on the CPU in double, says so once, and writes the CPU merge's bytes; with a ridge it stays here.
     */
    @Test
    void exactWithoutARidgeMergesOnTheCpuInDoubleWithOneWarning() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("wudi-gpu-exact");
        try {
            List<java.nio.file.Path> inputs = new ArrayList<>();
            for (int m = 0; m <= 3; m++) {
                java.nio.file.Path f = dir.resolve("m" + m + ".safetensors");
                writeRandom(f, new String[] {"l.weight"}, new long[][] {{24, 40}}, 0, 0.2);   // the same base
                if (m > 0) {
                    addNoise(f, "l.weight", 100L + m);
                }
                inputs.add(f);
            }
            byte[][] out = new byte[2][];
            dev.wudi.merge.MergeReport onGpu = null;
            for (int k = 0; k < 2; k++) {
                java.nio.file.Path o = dir.resolve("out" + k + ".safetensors");
                dev.wudi.spec.MergeSpec opts = dev.wudi.spec.MergeSpec.builder(inputs.get(0),
                        inputs.subList(1, 4), o).solver(new SolverSpec.Exact(0)).build();
                if (k == 0) {
                    onGpu = new dev.wudi.merge.Merger(opts, gpu, null).run();
                } else {
                    try (Backend cpu = dev.wudi.backend.Backends.cpu(0)) {
                        new dev.wudi.merge.Merger(opts, cpu, null).run();
                    }
                }
                out[k] = java.nio.file.Files.readAllBytes(o);
            }
            assertTrue(java.util.Arrays.equals(out[0], out[1]), "the CPU's exact merge, byte for byte");
            assertTrue(onGpu.device().endsWith("(WUDI on cpu)"), onGpu.device());
            assertEquals(1, onGpu.warnings().stream().filter(w -> w.contains("only a C accumulated in double")).count(),
                    String.valueOf(onGpu.warnings()));
            dev.wudi.spec.MergeSpec ridge = dev.wudi.spec.MergeSpec.builder(inputs.get(0), inputs.subList(1, 4),
                    dir.resolve("ridge.safetensors")).solver(new SolverSpec.Exact(0.5)).build();
            dev.wudi.merge.MergeReport r = new dev.wudi.merge.Merger(ridge, gpu, null).run();
            assertEquals(gpu.name(), r.device());
        } finally {
            try (java.util.stream.Stream<java.nio.file.Path> s = java.nio.file.Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Rewrites the one tensor of file as itself plus a small random change (a fine-tune of the same base). */
    private static void addNoise(java.nio.file.Path file, String name, long seed) throws Exception {
        float[] v;
        long[] shape;
        try (dev.wudi.checkpoint.Checkpoint c = dev.wudi.checkpoint.Checkpoint.open(file)) {
            shape = c.tensor(name).info().shape();
            v = new float[(int) c.tensor(name).info().numel()];
            c.tensor(name).readAll(v);
        }
        SplittableRandom r = new SplittableRandom(seed);
        for (int j = 0; j < v.length; j++) {
            v[j] += (float) ((r.nextDouble() - 0.5) * 0.01);
        }
        try (dev.wudi.format.SafetensorsWriter w = dev.wudi.format.SafetensorsWriter.create(file,
                List.of(new dev.wudi.format.SafetensorsWriter.TensorSpec(name, DType.F32, shape)), java.util.Map.of())) {
            w.writeFloats(v, 0, v.length);
            w.finish();
        }
    }

    private static void writeRandom(java.nio.file.Path file, String[] names, long[][] shapes, long seed, double scale)
            throws Exception {
        List<dev.wudi.format.SafetensorsWriter.TensorSpec> specs = new ArrayList<>();
        for (int t = 0; t < names.length; t++) {
            specs.add(new dev.wudi.format.SafetensorsWriter.TensorSpec(names[t], DType.F32, shapes[t]));
        }
        try (dev.wudi.format.SafetensorsWriter w = dev.wudi.format.SafetensorsWriter.create(file, specs,
                java.util.Map.of())) {
            for (int t = 0; t < names.length; t++) {
                int n = (int) (specs.get(t).byteSize() / 4);
                SplittableRandom r = new SplittableRandom(seed + t);
                float[] v = new float[n];
                for (int j = 0; j < n; j++) {
                    v[j] = (float) ((r.nextDouble() - 0.5) * scale);
                }
                w.writeFloats(v, 0, n);
            }
            w.finish();
        }
    }

    private static java.util.Map<String, float[]> mergeWith(Backend b, List<java.nio.file.Path> ckpts,
                                                           java.nio.file.Path out) throws Exception {
        return mergeWith(b, ckpts, out, true);
    }

    private static java.util.Map<String, float[]> mergeWith(Backend b, List<java.nio.file.Path> ckpts,
                                                           java.nio.file.Path out, boolean experts)
            throws Exception {
        dev.wudi.spec.MergeSpec o = dev.wudi.spec.MergeSpec.builder(ckpts.get(0), ckpts.subList(1, 4), out)
                .adam(AdamConfig.paper().withLr(1e-3f).withIterations(30)).build();
        dev.wudi.merge.MergeReport r = new dev.wudi.merge.Merger(o, b, null).run();
        assertEquals("in-out", r.tensors().get(0).layout());
        if (experts) {
            assertEquals("experts-out-in", r.tensors().get(2).layout());
        }
        java.util.Map<String, float[]> m = new java.util.LinkedHashMap<>();
        try (dev.wudi.checkpoint.Checkpoint c = dev.wudi.checkpoint.Checkpoint.open(out)) {
            for (String n : c.names()) {
                float[] v = new float[(int) c.tensor(n).info().numel()];
                c.tensor(n).readAll(v);
                m.put(n, v);
            }
        }
        return m;
    }

    /** The async path: tensor B's uploads are queued while tensor A solves; results equal the sync path's. */
    @Test
    void asyncSolveOverlapsTheNextTensorAndGivesTheSameBits() {
        List<float[]> a = tasks(3, 120, 90, 21);
        List<float[]> b = tasks(3, 90, 120, 22);
        AdamConfig cfg = AdamConfig.paper().withIterations(25);
        WudiResult wantA = solve(gpu, 120, 90, a, cfg);
        WudiResult wantB = solve(gpu, 90, 120, b, cfg);
        try (WudiProblem pa = gpu.newProblem("a.weight", 120, 90); WudiProblem pb = gpu.newProblem("b.weight", 90, 120)) {
            a.forEach(pa::addTaskVector);
            WudiProblem.Pending pending = pa.solveAdamAsync(cfg);
            assertThrows(IllegalStateException.class, () -> pa.addTaskVector(a.get(0)));
            b.forEach(pb::addTaskVector);
            WudiResult gotA = pending.await();
            WudiResult gotB = pb.solveAdam(cfg, null);
            assertArrayEquals(wantA.tauM(), gotA.tauM());
            assertEquals(wantA.lossAfter(), gotA.lossAfter());
            assertArrayEquals(wantB.tauM(), gotB.tauM());
        }
    }

    /** Task vectors formed on the device from raw checkpoint bytes equal those formed on the host. */
    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16", "F16"})
    void rawCheckpointBytesGiveTheSameResultAsHostTaskVectors(String type) {
        DType dtype = DType.valueOf(type);
        int rows = 37, cols = 29, n = rows * cols;
        SplittableRandom rnd = new SplittableRandom(type.hashCode());
        float[] w0 = new float[n];
        for (int e = 0; e < n; e++) {
            w0[e] = (float) rnd.nextGaussian();
        }
        List<float[]> fineTuned = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            float[] wi = w0.clone();
            for (int e = 0; e < n; e++) {
                wi[e] += (float) (0.05 * rnd.nextGaussian());
            }
            fineTuned.add(wi);
        }
        List<float[]> taus = new ArrayList<>();
        for (float[] wi : fineTuned) {
            taus.add(hostTaskVector(wi, w0, dtype));
        }
        AdamConfig cfg = AdamConfig.paper().withIterations(15);
        WudiResult want = solve(gpu, rows, cols, taus, cfg);
        WudiResult got;
        try (WudiProblem p = gpu.newProblem("raw.weight", rows, cols)) {
            p.setBase(encode(w0, dtype), dtype);
            for (float[] wi : fineTuned) {
                p.addFineTuned(encode(wi, dtype));
            }
            assertThrows(IllegalArgumentException.class, () -> p.addFineTuned(ByteBuffer.allocate(3)));
            got = p.solveAdam(cfg, null);
        }
        assertArrayEquals(want.tauM(), got.tauM());
        assertEquals(want.lossBefore(), got.lossBefore());
    }

    static ByteBuffer encode(float[] w, DType dtype) {
        ByteBuffer b = ByteBuffer.allocate(w.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : w) {
            switch (dtype) {
                case F32: b.putFloat(x); break;
                case BF16: b.putShort(HalfPrecision.floatToBf16(x)); break;
                default: b.putShort(HalfPrecision.floatToF16(x)); break;
            }
        }
        return b.flip();
    }

    static float[] hostTaskVector(float[] wi, float[] w0, DType dtype) {
        if (dtype == DType.F32) {
            return TaskVectorReference.fromF32(wi, w0);
        }
        short[] a = new short[wi.length], b = new short[wi.length];
        for (int e = 0; e < wi.length; e++) {
            a[e] = dtype == DType.BF16 ? HalfPrecision.floatToBf16(wi[e]) : HalfPrecision.floatToF16(wi[e]);
            b[e] = dtype == DType.BF16 ? HalfPrecision.floatToBf16(w0[e]) : HalfPrecision.floatToF16(w0[e]);
        }
        return dtype == DType.BF16 ? TaskVectorReference.fromBf16(a, b) : TaskVectorReference.fromF16(a, b);
    }

    /**
     * Floats whose nearest bf16 (even indices) or f16 (odd indices) is a tie: the dropped bits are exactly
     * half an ulp, with the kept last bit random, so round-half-to-even is exercised both ways.
     */
    static float[] ties(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[n];
        for (int e = 0; e < n; e++) {
            int bits = Float.floatToRawIntBits((float) rnd.nextGaussian());
            w[e] = Float.intBitsToFloat(e % 2 == 0 ? (bits & 0xffff0000) | 0x8000 : (bits & ~0x1fff) | 0x1000);
        }
        w[n - 1] = 65520f;      // f16's overflow threshold, a tie itself: rounds to infinity
        return w;
    }

    /**
     * W_0 + tau_m formed and encoded on the device equals, byte for byte, the host path (w0[j] + tauM[j] in
     * float32, then Floats.encode), for every base dtype and output dtype. With 0 steps and one task vector
     * tau_m = W_1 - W_0 exactly (Sterbenz), so W = W_1, chosen to be full of rounding ties.
     */
    @ParameterizedTest(name = "base {0} -> out {1}")
    @CsvSource({"F32, F32", "F32, BF16", "F32, F16", "BF16, BF16", "BF16, F32", "BF16, F16", "F16, F16", "F16, BF16",
            "F16, F32"})
    void mergedWeightsEncodedOnTheDeviceEqualTheHostPath(String baseName, String outName) {
        DType baseType = DType.valueOf(baseName);
        DType out = DType.valueOf(outName);
        int rows = 23, cols = 19, n = rows * cols;
        for (int iterations : new int[] {0, 15}) {
            float[] w1 = ties(n, 31L * iterations + n);
            if (baseType == DType.F16) {
                w1[n - 1] = 1f;     // 65520 is infinite in an F16 checkpoint
            }
            SplittableRandom rnd = new SplittableRandom(iterations);
            List<float[]> fineTuned = new ArrayList<>();
            fineTuned.add(w1);
            float[] w0 = new float[n];
            for (int e = 0; e < n; e++) {
                w0[e] = w1[e] * (float) (1 + 0.01 * rnd.nextGaussian());
            }
            for (int i = 0; iterations > 0 && i < 2; i++) {
                float[] wi = w0.clone();
                for (int e = 0; e < n; e++) {
                    wi[e] += (float) (0.05 * rnd.nextGaussian());
                }
                fineTuned.add(wi);
            }
            AdamConfig cfg = AdamConfig.paper().withLr(1e-3f).withIterations(iterations);
            WudiResult plain;
            try (WudiProblem p = gpu.newProblem("plain.weight", rows, cols)) {
                feedRaw(p, w0, fineTuned, baseType);
                plain = p.solveAdam(cfg, null);
            }
            ByteBuffer got;
            try (WudiProblem p = gpu.newProblem("merged.weight", rows, cols)) {
                feedRaw(p, w0, fineTuned, baseType);
                assertTrue(p.mergeOnDevice(out));
                WudiResult r = p.solveAdam(cfg, null);
                assertEquals(0, r.tauM().length, "tau_m is not downloaded");
                assertEquals(plain.lossBefore(), r.lossBefore());
                assertEquals(plain.lossAfter(), r.lossAfter());
                got = p.mergedWeights();
            }
            float[] base = new float[n];
            Floats.decode(baseType, encode(w0, baseType), base, 0, n);
            float[] merged = new float[n];
            for (int e = 0; e < n; e++) {
                merged[e] = base[e] + plain.tauM()[e];              // the host path of WudiRule
            }
            ByteBuffer want = ByteBuffer.allocate(n * out.bytes());
            Floats.encode(out, merged, 0, n, want);
            assertEquals(n * out.bytes(), got.remaining(), "2 bytes per element for a 16-bit output");
            assertArrayEquals(want.array(), bytes(got), baseType + " -> " + out + ", " + iterations + " steps");
            if (iterations == 0 && baseType == DType.F32) {
                assertArrayEquals(w1, merged, "0 steps: W = W_1, the ties themselves");
            }
        }
    }

    /** The async solve forms the merged weight too; without a base (host task vectors) the request is refused. */
    @Test
    void mergedWeightsThroughTheAsyncSolveAndRefusedWithoutBase() {
        int rows = 12, cols = 10, n = rows * cols;
        List<float[]> taus = tasks(2, rows, cols, 5);
        try (WudiProblem p = gpu.newProblem("hostside.weight", rows, cols)) {
            taus.forEach(p::addTaskVector);
            assertEquals(false, p.mergeOnDevice(DType.BF16));
            assertThrows(IllegalStateException.class, p::mergedWeights);
        }
        float[] w0 = ties(n, 9);
        List<float[]> fineTuned = new ArrayList<>();
        for (float[] t : taus) {
            float[] wi = w0.clone();
            for (int e = 0; e < n; e++) {
                wi[e] += t[e];
            }
            fineTuned.add(wi);
        }
        AdamConfig cfg = AdamConfig.paper().withIterations(7);
        ByteBuffer sync;
        try (WudiProblem p = gpu.newProblem("sync.weight", rows, cols)) {
            feedRaw(p, w0, fineTuned, DType.BF16);
            assertTrue(p.mergeOnDevice(DType.F16));
            p.solveAdam(cfg, null);
            sync = p.mergedWeights();
        }
        try (WudiProblem p = gpu.newProblem("async.weight", rows, cols)) {
            feedRaw(p, w0, fineTuned, DType.BF16);
            assertTrue(p.mergeOnDevice(DType.F16));
            p.solveAdamAsync(cfg).await();
            assertArrayEquals(bytes(sync), bytes(p.mergedWeights()));
            assertThrows(IllegalStateException.class, () -> p.addFineTuned(encode(w0, DType.BF16)),
                    "W_0 is freed after the solve");
        }
    }

    static void feedRaw(WudiProblem p, float[] w0, List<float[]> fineTuned, DType dtype) {
        p.setBase(encode(w0, dtype), dtype);
        for (float[] wi : fineTuned) {
            p.addFineTuned(encode(wi, dtype));
        }
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    static List<SolverSpec> spectralSpecs() {
        return List.of(new SolverSpec.Exact(0), new SolverSpec.Exact(0.5), new SolverSpec.Flow(Double.NaN),
                new SolverSpec.Flow(3.0), SolverSpec.Spectral.defaults(),
                new SolverSpec.Spectral(SpectralFilter.Kind.TIKHONOV, 0.2, 0),
                new SolverSpec.Spectral(SpectralFilter.Kind.LANDWEBER, 40, 5));
    }

    /** ||got - want|| / ||want||. */
    static double relativeError(float[] got, float[] want) {
        double num = 0, den = 0;
        for (int e = 0; e < got.length; e++) {
            num += Math.pow((double) got[e] - want[e], 2);
            den += (double) want[e] * want[e];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    /**
     * The spectral solvers on the GPU (cuSOLVER's dsyevd, cuBLAS GEMMs on the device's Gram form) against the CPU's
     * SpectralSolver (LAPACK, OpenBLAS) on the same task vectors; also with more columns than rows (C singular).
     */
    @ParameterizedTest(name = "[{0} x {1}] x {2} tasks")
    @CsvSource({"64, 48, 3", "20, 33, 2", "7, 5, 4"})
    void spectralSolversMatchTheCpuSpectralSolver(int rows, int cols, int count) {
        List<float[]> taus = tasks(count, rows, cols, 77L * rows + cols);
        GramMatrices heap = GramMatrices.of(rows, cols, taus);
        for (SolverSpec spec : spectralSpecs()) {
            SpectralSolver.Solution want = new SpectralSolver(new LapackEigen()).solve(heap, spec);
            WudiResult got;
            try (WudiProblem p = gpu.newProblem("spectral.weight", rows, cols)) {
                taus.forEach(p::addTaskVector);
                got = p.solve(spec, null);
            }
            String what = spec.name() + " " + spec + " on [" + rows + ", " + cols + "]";
            assertEquals(want.used(), got.details().get("rank_used").intValue(), what);
            assertEquals(want.param(), got.details().get("filter_param"), 1e-4 * Math.abs(want.param()), what);
            double err = relativeError(got.tauM(), want.tau());
            assertTrue(err < 2e-3, what + ": relative error " + err);
            assertEquals(want.lossBefore(), got.lossBefore(), 1e-4 * Math.abs(want.lossBefore()) + 1e-9, what);
            assertEquals(want.lossAfter(), got.lossAfter(), 1e-3 * Math.abs(want.lossBefore()) + 1e-9, what);
            assertEquals(0, got.steps());
        }
    }

    /** Without cuSOLVER the eigendecomposition runs on the host (LAPACK); the result is the CPU's, the rest as on the GPU. */
    @Test
    void spectralSolveWithTheCpuEigensolverAndTheMergedOutput() {
        int rows = 30, cols = 24, n = rows * cols;
        List<float[]> taus = tasks(3, rows, cols, 99);
        GramMatrices heap = GramMatrices.of(rows, cols, taus);
        SolverSpec spec = new SolverSpec.Exact(0.1);
        SpectralSolver.Solution want = new SpectralSolver(new LapackEigen()).solve(heap, spec);
        CudaBackend cuda = (CudaBackend) gpu;
        WudiResult onDevice;
        try {
            cuda.useEigen(new LapackEigen());
            assertTrue(cuda.eigenFallbackReason().contains("lapack-dsyevd"), cuda.eigenFallbackReason());
            try (WudiProblem p = gpu.newProblem("lapack.weight", rows, cols)) {
                taus.forEach(p::addTaskVector);
                onDevice = p.solve(spec, null);
            }
        } finally {
            cuda.useEigen(null);
        }
        assertTrue(relativeError(onDevice.tauM(), want.tau()) < 1e-3);
        assertEquals(want.lossAfter(), onDevice.lossAfter(), 1e-3 * Math.abs(want.lossBefore()));

        // the spectral solve forms W_0 + tau on the device too: same bytes as the host path on its own tau
        float[] w0 = ties(n, 4);
        List<float[]> fineTuned = new ArrayList<>();
        for (float[] t : taus) {
            float[] wi = w0.clone();
            for (int e = 0; e < n; e++) {
                wi[e] += t[e];
            }
            fineTuned.add(wi);
        }
        WudiResult plain;
        try (WudiProblem p = gpu.newProblem("plain.weight", rows, cols)) {
            feedRaw(p, w0, fineTuned, DType.F32);
            plain = p.solve(spec, null);
        }
        try (WudiProblem p = gpu.newProblem("merged.weight", rows, cols)) {
            feedRaw(p, w0, fineTuned, DType.F32);
            assertTrue(p.mergeOnDevice(DType.BF16));
            WudiResult r = p.solve(spec, null);
            assertEquals(0, r.tauM().length);
            float[] merged = new float[n];
            for (int e = 0; e < n; e++) {
                merged[e] = w0[e] + plain.tauM()[e];
            }
            ByteBuffer wantBytes = ByteBuffer.allocate(2 * n);
            Floats.encode(DType.BF16, merged, 0, n, wantBytes);
            assertArrayEquals(wantBytes.array(), bytes(p.mergedWeights()));
        }
    }

    @Test
    void zeroTaskVectorStillJoinsTheSum() {
        List<float[]> taus = tasks(2, 9, 7, 3);
        taus.add(new float[63]);
        AdamConfig cfg = AdamConfig.paper().withIterations(5);
        WudiResult got = solve(gpu, 9, 7, taus, cfg);
        GramFormReference.Solution want = GramFormReference.solve(9, 7, taus, cfg);
        assertEquals(want.lossBefore(), got.lossBefore(), 1e-4 * Math.abs(want.lossBefore()));
    }

    @Test
    void zeroStepsReturnsTheSum() {
        List<float[]> taus = tasks(3, 8, 8, 4);
        WudiResult got = solve(gpu, 8, 8, taus, AdamConfig.paper().withIterations(0));
        float[] sum = new float[64];
        for (float[] t : taus) {
            for (int e = 0; e < 64; e++) {
                sum[e] += t[e];
            }
        }
        assertArrayEquals(sum, got.tauM(), 1e-7f);
        assertEquals(got.lossBefore(), got.lossAfter());
    }

    @Test
    void deterministicBitForBit() {
        List<float[]> taus = tasks(3, 100, 70, 8);
        AdamConfig cfg = AdamConfig.paper().withIterations(20);
        WudiResult a = solve(gpu, 100, 70, taus, cfg);
        WudiResult b = solve(gpu, 100, 70, taus, cfg);
        assertArrayEquals(a.tauM(), b.tauM());
        assertEquals(a.lossBefore(), b.lossBefore());
        assertEquals(a.lossAfter(), b.lossAfter());
    }

    @Test
    void listenerSeesEveryStepWithTheLossAtItsStart() {
        List<float[]> taus = tasks(3, 20, 12, 2);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-3f).withIterations(10);
        List<Double> seen = new ArrayList<>();
        List<Integer> steps = new ArrayList<>();
        WudiResult r;
        try (WudiProblem p = gpu.newProblem("listener.weight", 20, 12)) {
            taus.forEach(p::addTaskVector);
            r = p.solveAdam(cfg, (t, loss) -> {
                steps.add(t);
                seen.add(loss);
            });
        }
        assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), steps);
        assertEquals(r.lossBefore(), seen.get(0));
        GramFormReference.Solution want = GramFormReference.solve(20, 12, taus, cfg);
        for (int t = 0; t < 10; t++) {
            assertEquals(want.losses()[t], seen.get(t), 1e-4 * Math.abs(want.losses()[t]));
        }
    }

    @Test
    void tf32IsCloseButNotFaithful() {
        List<float[]> taus = tasks(4, 96, 80, 12);
        AdamConfig cfg = AdamConfig.paper().withIterations(30);
        WudiResult fp32 = solve(gpu, 96, 80, taus, cfg);
        try (Backend tf32 = CudaBackends.open(0, true)) {
            WudiResult t = solve(tf32, 96, 80, taus, cfg);
            assertEquals(fp32.lossBefore(), t.lossBefore(), 1e-2 * Math.abs(fp32.lossBefore()));
            assertTrue(tf32.describe().contains("tf32"), tf32.describe());
        }
    }

    @Test
    void wrongLengthAndNoTasksAreClearErrors() {
        try (WudiProblem p = gpu.newProblem("bad.weight", 4, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.addTaskVector(new float[15]));
            assertTrue(e.getMessage().contains("bad.weight"), e.getMessage());
            IllegalStateException s = assertThrows(IllegalStateException.class, () -> p.solveAdam(AdamConfig.paper(), null));
            assertTrue(s.getMessage().contains("bad.weight"), s.getMessage());
        }
    }

    @Test
    void tooLargeForTheDeviceNamesTensorAndBytes() {
        DeviceMemoryException e = assertThrows(DeviceMemoryException.class,
                () -> gpu.newProblem("huge.weight", 1 << 20, 1 << 17));
        assertTrue(e.getMessage().startsWith("tensor huge.weight [1048576, 131072] needs"), e.getMessage());
    }

    @Test
    void describesTheDevice() {
        String d = gpu.describe();
        assertTrue(d.startsWith("cuda:0: "), d);
        assertTrue(d.contains("compute") && d.contains("GiB") && d.contains("driver") && d.contains("cuBLAS"), d);
        assertEquals("cuda:0", gpu.name());
    }
}
