package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No merge writes a model holding NaN or an infinity and exits 0: every computed tensor is checked as it is written,
 * and a non-finite result stops the merge with exit 1 and one line naming the tensor, the method and the likely cause
 * (an overflowing weight, normalised weights that cancel, an adapter's scaling, an input near the float32 range, the
 * output dtype's range). Tensors completed before it are kept for --resume, as after any other failure.
 */
class NonFiniteResultsTest {

    @TempDir
    Path tmp;

    /** A [rows, cols] matrix of values around center (seeded). */
    private static Tensor matrix(int rows, int cols, double center, double spread, long seed) {
        Random r = new Random(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (center + spread * r.nextGaussian());
        }
        return new Tensor(v, new long[] {rows, cols});
    }

    private Path write(String name, Map<String, Tensor> tensors) throws IOException {
        Path f = tmp.resolve(name);
        HubFolder.writeSafetensors(f, tensors, DType.F32, Map.of());
        return f;
    }

    /** A base and two fine-tunes of one linear weight (values around 1.5, task vectors around 0.01). */
    private Path[] oneWeight() throws IOException {
        Path base = write("base.safetensors", Map.of("layer.weight", matrix(8, 8, 1.5, 0.1, 1)));
        Path[] out = {base, null, null};
        for (int k = 1; k <= 2; k++) {
            Tensor w = matrix(8, 8, 1.5, 0.1, 1);
            Tensor d = matrix(8, 8, 0, 0.01, 10 + k);
            for (int i = 0; i < w.numel(); i++) {
                w.data()[i] += d.data()[i];
            }
            out[k] = write("ft" + k + ".safetensors", Map.of("layer.weight", w));
        }
        return out;
    }

    /** merge.yml: linear of the two fine-tunes over the base with these weights, then more. */
    private Path linear(Path[] m, String w1, String w2, String more) throws IOException {
        return Files.writeString(tmp.resolve("merge.yml"), "merge_method: linear\nbase_model: " + m[0]
                + "\nmodels:\n  - model: " + m[1] + "\n    parameters: {weight: " + w1 + "}\n  - model: " + m[2]
                + "\n    parameters: {weight: " + w2 + "}\n" + more);
    }

    private static void failsNaming(Cli.Result r, String... expected) {
        assertEquals(1, r.exit(), r.toString());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "one line: " + r);
        for (String e : expected) {
            assertTrue(lines.get(0).contains(e), "'" + e + "' in: " + r);
        }
        assertFalse(r.err().contains("\tat "), r.toString());
    }

    private void nothingLeft(Path out) {
        assertFalse(Files.exists(out), "no output");
        assertFalse(Files.exists(CheckpointWriter.partialPath(out)), "no partial output: no tensor was complete");
        assertFalse(Files.exists(CheckpointWriter.journalPath(out)), "no journal");
    }

    @Test
    void linearWeightsThatOverflowFloat32AreNamed() throws IOException {
        Path[] m = oneWeight();
        Path out = tmp.resolve("o.safetensors");
        linear(m, "3.0e+38", "3.0e+38", "parameters:\n  normalize: false\n");
        failsNaming(InProcess.run("merge", "-q", "--config", tmp.resolve("merge.yml").toString(), "--out",
                out.toString()), "tensor layer.weight [8, 8]", "Infinity", "overflowing weight");
        nothingLeft(out);
        // normalised, the same weights would divide by an infinite sum and write zeros: refused as well
        linear(m, "3.0e+38", "3.0e+38", "");
        failsNaming(InProcess.run("merge", "-q", "--config", tmp.resolve("merge.yml").toString(), "--out",
                out.toString()), "tensor layer.weight", "weights sum to 6.0E38, beyond float32's range");
        nothingLeft(out);
    }

    @Test
    void normalisedWeightsThatCancelAreRefusedBeforeAnyTensor() throws IOException {
        Path[] m = oneWeight();
        Path out = tmp.resolve("o.safetensors");
        linear(m, "1", "-1", "parameters:\n  normalize: true\n");
        Cli.Result r = InProcess.run("merge", "-q", "--config", tmp.resolve("merge.yml").toString(), "--out",
                out.toString());
        assertEquals(2, r.exit(), "a usage mistake, found where the config is read: " + r);
        assertTrue(r.err().contains("do not sum to 0"), r.toString());
        nothingLeft(out);
    }

    @Test
    void aFineTuneNearTheFloat32RangeStopsWudiInsteadOfWritingNaN() throws IOException {
        Path[] m = oneWeight();
        Tensor w = matrix(8, 8, 1.5, 0.1, 1);
        w.data()[5] = 1e19f;                              // finite, but its square is not
        Path huge = write("huge.safetensors", Map.of("layer.weight", w));
        Path out = tmp.resolve("o.safetensors");
        failsNaming(InProcess.run("merge", "-q", "--base", m[0].toString(), "--model", m[1].toString(), "--model",
                huge.toString(), "--out", out.toString()), "the wudi merge gives NaN", "input near the float32 range");
        nothingLeft(out);
    }

    @Test
    void anAdaptersHugeScalingIsNamed() throws IOException {
        Path base = write("base.safetensors", Map.of("layer.weight", matrix(8, 8, 0, 0.1, 1)));
        Path[] adapters = new Path[2];
        for (int k = 0; k < 2; k++) {
            Path dir = Files.createDirectories(tmp.resolve("lora" + k));
            Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": "
                    + (k == 0 ? "1e20" : "4") + ", \"target_modules\": [\"layer\"]}");
            Map<String, Tensor> f = new LinkedHashMap<>();
            f.put("base_model.model.layer.lora_A.weight", matrix(2, 8, 0, 0.1, 20 + k));
            f.put("base_model.model.layer.lora_B.weight", matrix(8, 2, 0, 0.1, 30 + k));
            HubFolder.writeSafetensors(dir.resolve("adapter_model.safetensors"), f, DType.F32, Map.of());
            adapters[k] = dir;
        }
        Path out = tmp.resolve("o.safetensors");
        // the paper's Adam: its loss overflows on the huge task vector (the default merge gives a finite, useless one)
        failsNaming(InProcess.run("merge", "-q", "--base", base.toString(), "--model", adapters[0].toString(),
                "--model", adapters[1].toString(), "--solver", "adam", "--out", out.toString()), "tensor layer.weight",
                "an adapter's scaling lora_alpha / r = 5.00e+19");
        nothingLeft(out);
    }

    @Test
    void aValueBeyondTheOutputDtypeIsNamedWithTheFix() throws IOException {
        Path[] m = oneWeight();
        Path out = tmp.resolve("o.safetensors");
        failsNaming(InProcess.run("merge", "-q", "--base", m[0].toString(), "--model", m[1].toString(), "--model",
                m[2].toString(), "--method", "task-arithmetic", "--scale", "1e7", "--dtype", "f16", "--out",
                out.toString()), "does not fit F16 (largest finite 65504); --dtype f32 keeps it");
        nothingLeft(out);
        assertEquals(0, InProcess.run("merge", "-q", "--base", m[0].toString(), "--model", m[1].toString(), "--model",
                m[2].toString(), "--method", "task-arithmetic", "--scale", "1e7", "--dtype", "f32", "--out",
                out.toString()).exit(), "finite in float32");
    }

    @Test
    void tensorsCompletedBeforeTheFailureAreKeptForResume() throws IOException {
        Map<String, Tensor> b = new LinkedHashMap<>();
        b.put("a.weight", matrix(8, 8, 1, 0.1, 1));
        b.put("b.weight", matrix(8, 8, 1, 0.1, 2));
        Path base = write("base.safetensors", b);
        Map<String, Tensor> f1 = new LinkedHashMap<>();
        f1.put("a.weight", matrix(8, 8, 1, 0.1, 3));
        f1.put("b.weight", matrix(8, 8, 1, 0.1, 4));
        Map<String, Tensor> f2 = new LinkedHashMap<>(f1);
        Tensor bad = matrix(8, 8, 1, 0.1, 5);
        bad.data()[0] = 3e38f;
        f2.put("b.weight", bad);
        Path out = tmp.resolve("o.safetensors");
        Cli.Result r = InProcess.run("merge", "-q", "--base", base.toString(), "--model", write("f1.safetensors", f1)
                .toString(), "--model", write("f2.safetensors", f2).toString(), "--method", "task-arithmetic",
                "--scale", "2", "--out", out.toString());
        failsNaming(r, "tensor b.weight", "1 of 2 tensors are complete and kept in " + CheckpointWriter.partialPath(
                out.toAbsolutePath()));
        assertFalse(Files.exists(out));
        assertTrue(Files.exists(CheckpointWriter.partialPath(out)) && Files.exists(CheckpointWriter.journalPath(out)));
    }
}
