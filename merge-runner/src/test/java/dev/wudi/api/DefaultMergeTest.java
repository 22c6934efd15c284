package dev.wudi.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.method.CoverageRule;
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
 * The default merge (no solver option) on every surface: the spectral solver, then per matrix {@link CoverageRule}
 * (half of tau_m where the task vectors span most of the input space, 0.75 x the models' average where they span a
 * sliver),
 * and the models' average for the other tensors. The Java API, a mergekit config with `merge_method: wudi` and no
 * parameters, and the options spelled out give the same bytes; `--solver adam` is the paper's merge.
 */
class DefaultMergeTest {

    @TempDir
    Path tmp;

    static final int ROWS = 24;
    static final int COLS = 40;
    static final String WEIGHT = "layers.0.mlp.up_proj.weight";
    static final String NORM = "layers.0.norm.weight";
    static final float U = 0x1p-24f;   // float32 unit roundoff

    /**
     * W_0 (task 0) or W_0 plus a task vector of RMS about 0.01: dense (full rank), or of rank 2 (tau = P Q, the form a
     * LoRA fine-tune has: 3 tasks span 6 of 40 input directions, coverage 0.15).
     */
    private Path checkpoint(String file, int task, boolean lowRank) throws IOException {
        Random base = new Random(1);
        Random t = new Random(100 + task);
        float[] w = new float[ROWS * COLS];
        for (int j = 0; j < w.length; j++) {
            w[j] = (float) (base.nextGaussian() * 0.1);
        }
        if (task > 0) {
            if (lowRank) {
                double[][] p = new double[ROWS][2];
                double[][] q = new double[2][COLS];
                for (double[] row : p) {
                    row[0] = t.nextGaussian() * 0.1;
                    row[1] = t.nextGaussian() * 0.1;
                }
                for (double[] row : q) {
                    for (int c = 0; c < COLS; c++) {
                        row[c] = t.nextGaussian() * 0.1;
                    }
                }
                for (int r = 0; r < ROWS; r++) {
                    for (int c = 0; c < COLS; c++) {
                        w[r * COLS + c] += (float) (p[r][0] * q[0][c] + p[r][1] * q[1][c]);
                    }
                }
            } else {
                for (int j = 0; j < w.length; j++) {
                    w[j] += (float) (t.nextGaussian() * 0.01);
                }
            }
        }
        float[] norm = new float[ROWS];
        for (int j = 0; j < ROWS; j++) {
            norm[j] = 1f + (task == 0 ? 0 : (float) (t.nextGaussian() * 0.01));
        }
        Path p = tmp.resolve(file);
        List<TensorSpec> specs = List.of(new TensorSpec(WEIGHT, DType.F32, new long[] {ROWS, COLS}),
                new TensorSpec(NORM, DType.F32, new long[] {ROWS}));
        try (SafetensorsWriter wr = SafetensorsWriter.create(p, specs, Map.of())) {
            wr.writeFloats(w, 0, w.length);
            wr.writeFloats(norm, 0, norm.length);
            wr.finish();
        }
        return p;
    }

    private static float[] read(Path file, String name) throws IOException {
        return LibraryTest.read(file, name);
    }

    private List<Path> models(boolean lowRank) throws IOException {
        List<Path> m = new ArrayList<>();
        for (int k = 1; k <= 3; k++) {
            m.add(checkpoint((lowRank ? "low" : "full") + k + ".safetensors", k, lowRank));
        }
        return m;
    }

    @Test
    void fullRankTaskVectorsTakeHalfOfTheSpectralSolutionAndTheRestIsAveraged() throws Exception {
        Path base = checkpoint("base.safetensors", 0, false);
        List<Path> models = models(false);
        Path byDefault = tmp.resolve("default.safetensors");
        MergeResult r = CheckpointMerge.builder(base, byDefault).models(models).device("cpu").build().run();
        Path spelled = tmp.resolve("spelled.safetensors");
        CheckpointMerge.builder(base, spelled).models(models).option("--solver", "spectral").option("--scale", "0.5")
                .option("--rest", "average").device("cpu").build().run();
        assertArrayEquals(Files.readAllBytes(byDefault), Files.readAllBytes(spelled),
                "the default is --solver spectral --scale 0.5 --rest average where the task vectors cover the inputs");
        TensorResult w = r.tensors().stream().filter(t -> t.name().equals(WEIGHT)).findFirst().orElseThrow();
        assertEquals(CoverageRule.SCALE, w.details().get("coefficient"), "coefficient recorded per tensor");
        assertEquals(1.0, w.details().get("coverage"), "40 random directions per task: C has full rank");
        assertTrue(r.toJson().contains("scale auto: 1 tensor took 0.5 x tau_m (their task vectors span 1.00 of the input"
                + " space)"), "the report says what the rule did: " + r.toJson());
        Path page = tmp.resolve("default.html");
        r.writeHtml(page);
        assertTrue(Files.readString(page).contains("solution tau_m, before the coefficient or average written"),
                "the loss reported is tau_m's, not the written weights', and the report says so");

        Path yml = Files.writeString(tmp.resolve("wudi.yml"), "merge_method: wudi\nbase_model: " + base
                + "\nmodels:\n  - model: " + models.get(0) + "\n  - model: " + models.get(1) + "\n  - model: "
                + models.get(2) + "\n");
        Path fromConfig = tmp.resolve("config.safetensors");
        CheckpointMerge.fromConfig(yml, fromConfig).device("cpu").build().run();
        assertArrayEquals(Files.readAllBytes(byDefault), Files.readAllBytes(fromConfig),
                "merge_method: wudi with no parameters is the same default");
    }

    @Test
    void lowRankTaskVectorsTakeThreeQuartersOfTheModelsAverage() throws Exception {
        Path base = checkpoint("base.safetensors", 0, false);
        List<Path> models = models(true);
        Path byDefault = tmp.resolve("default.safetensors");
        MergeResult r = CheckpointMerge.builder(base, byDefault).models(models).device("cpu").build().run();
        TensorResult w = r.tensors().stream().filter(t -> t.name().equals(WEIGHT)).findFirst().orElseThrow();
        assertEquals(0.0, w.details().get("coefficient"), "the average, not tau_m");
        assertEquals(0.75, w.details().get("average_fraction"), "three quarters of it");
        assertEquals(6.0 / COLS, w.details().get("coverage"), 1e-12, "3 tasks of rank 2 over 40 inputs");
        assertTrue(r.toJson().contains("scale auto: 1 tensor took 0.75 x the models' average (their task vectors span"
                + " only 0.15"),
                "the report says what the rule did: " + r.toJson());
        float[] merged = read(byDefault, WEIGHT);
        float[] w0 = read(base, WEIGHT);
        List<float[]> ws = new ArrayList<>();
        for (Path m : models) {
            ws.add(read(m, WEIGHT));
        }
        for (int j = 0; j < merged.length; j++) {
            // W_0 + (0.75/3) sum (W_i - W_0) in float32 against the same in double: each of the 3 subtractions, the
            // sum, the scaling and the addition round once (relative u), on terms of at most |W_0| + sum |W_i|
            double sum = 0;
            double mag = Math.abs(w0[j]);
            for (float[] wi : ws) {
                sum += (double) wi[j] - w0[j];
                mag += Math.abs(wi[j]);
            }
            assertEquals(w0[j] + 0.25 * sum, merged[j], 8 * U * mag, "element " + j + ": 0.75 x the models' average");
        }
        assertFalse(r.tensors().isEmpty());
    }

    /**
     * The data-free signs that a merge likely hurts (HarmSignals): Adam at the paper's lr on task vectors of RMS 0.01,
     * above lr x steps = 3e-3, ends near the sum it starts from; at lr 1e-3 it travels; the unscaled spectral solution
     * on task vectors spanning 6 of 40 input directions is flagged, the default merge (0.75 x the average there) is not.
     */
    @Test
    void aMergeLikelyWorseThanAveragingIsNamedPerTensorAndInOneWarning() throws Exception {
        Path base = checkpoint("base.safetensors", 0, false);
        List<Path> full = models(false);
        MergeResult paper = CheckpointMerge.builder(base, tmp.resolve("paper.safetensors")).models(full)
                .option("--solver", "adam").device("cpu").build().run();
        TensorResult w = weight(paper);
        assertEquals(1.0, w.details().get("likely_hurts"), w.details().toString());
        assertTrue(w.details().get("distance_from_sum") < 1.0 / 3, w.details().toString());
        assertEquals(1, paper.warnings().stream().filter(x -> x.startsWith("likely worse than averaging")
                && x.contains("1 tensor: Adam ended near its start")).count(), paper.warnings().toString());

        MergeResult travelled = CheckpointMerge.builder(base, tmp.resolve("lr.safetensors")).models(full)
                .option("--lr", "1e-3").device("cpu").build().run();
        assertFalse(weight(travelled).details().containsKey("likely_hurts"), weight(travelled).details().toString());
        assertTrue(weight(travelled).details().get("distance_from_sum") >= 1.0 / 3);
        assertTrue(travelled.warnings().stream().noneMatch(x -> x.startsWith("likely worse")));

        List<Path> low = models(true);
        MergeResult spectral = CheckpointMerge.builder(base, tmp.resolve("spectral.safetensors")).models(low)
                .option("--solver", "spectral").device("cpu").build().run();
        assertEquals(1.0, weight(spectral).details().get("likely_hurts"));
        assertTrue(spectral.warnings().stream().anyMatch(x -> x.contains("the task vectors span only 0.15")),
                spectral.warnings().toString());
        MergeResult byDefault = CheckpointMerge.builder(base, tmp.resolve("default.safetensors")).models(low)
                .device("cpu").build().run();
        assertFalse(weight(byDefault).details().containsKey("likely_hurts"));
        assertTrue(byDefault.warnings().stream().noneMatch(x -> x.startsWith("likely worse")));
    }

    private static TensorResult weight(MergeResult r) {
        return r.tensors().stream().filter(t -> t.name().equals(WEIGHT)).findFirst().orElseThrow();
    }

    @Test
    void solverAdamIsThePapersMergeAndScaleAutoNeedsTheSpectralSolver() throws Exception {
        Path base = checkpoint("base.safetensors", 0, false);
        List<Path> models = models(false);
        Path paper = tmp.resolve("paper.safetensors");
        CheckpointMerge.builder(base, paper).models(models).option("--solver", "adam").device("cpu").build().run();
        Path spelled = tmp.resolve("spelled.safetensors");
        CheckpointMerge.builder(base, spelled).models(models).option("--solver", "adam").option("--lr", "1e-5")
                .option("--iters", "300").option("--scale", "1").option("--rest", "base").device("cpu").build()
                .run();
        assertArrayEquals(Files.readAllBytes(paper), Files.readAllBytes(spelled),
                "--solver adam: lr 1e-5, 300 steps, scale 1, the base's other tensors");
        assertArrayEquals(read(base, NORM), read(paper, NORM), "the paper keeps the base's norm weights");
        Path page = tmp.resolve("paper.html");
        CheckpointMerge.builder(base, tmp.resolve("paper-again.safetensors")).models(models).option("--solver", "adam")
                .device("cpu").build().run().writeHtml(page);
        assertFalse(Files.readString(page).contains("before the coefficient"), "at scale 1 the loss is the merge's own");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(base, paper)
                .models(models).option("--solver", "adam").option("--scale", "auto").build()).getMessage()
                .contains("--solver spectral"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CheckpointMerge.builder(base, paper)
                .models(models).method("ties").option("--scale", "auto").build()).getMessage()
                .contains("--scale auto applies to wudi"));
    }
}
