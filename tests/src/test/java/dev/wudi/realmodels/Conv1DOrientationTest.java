package dev.wudi.realmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.solver.WudiResult;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.PeftAdapter;
import dev.wudi.hub.PeftFixtures;
import dev.wudi.hub.Tensor;
import dev.wudi.hub.Wudi;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.InterferenceLoss;
import dev.wudi.solver.LiteralWudi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2's Conv1D weights are stored [in, out]; WUDI's loss is written for [out, in] (specification 2). A merge of a
 * GPT-2 checkpoint must equal transposing every Conv1D weight, running the paper's optimisation on the
 * nn.Linear layout and transposing back. Checked on full fine-tunes built from real third-party LoRA adapters
 * (../shared/fixtures/peft-real) against the same merge of explicitly transposed copies, and on a small
 * GPT-2-shaped checkpoint against the paper's literal optimisation (LiteralWudi).
 */
@dev.wudi.hub.NeedsPeftFixtures
class Conv1DOrientationTest {

    @TempDir
    static Path tmp;

    static final String[] ADAPTERS = {"gpt2-lora-cattn-r8/stathopoan__lightweight-ft",
        "gpt2-lora-cattn-r8/ybriz__generative-ai", "gpt2-lora-cattn-r8/anirudh-ak__peft-gpt2"};
    static final List<String> CONV1D = List.of("h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight",
            "h.0.mlp.c_fc.weight", "h.0.mlp.c_proj.weight");

    static Path base;
    static final List<Path> models = new ArrayList<>();
    static Model baseModel;
    static final List<Model> fineTunes = new ArrayList<>();

    @BeforeAll
    static void checkpoints() throws Exception {
        baseModel = HubModels.gpt2(1, 48, 16, 11);
        base = HubFolder.write(tmp.resolve("gpt2"), baseModel, DType.F32);
        for (String a : ADAPTERS) {
            Model m = HubModels.gpt2SequenceClassifier(baseModel, PeftAdapter.read(PeftFixtures.adapter(a)));
            fineTunes.add(m);
            models.add(HubFolder.write(tmp.resolve(a.replace('/', '_')), m, DType.F32));
        }
    }

    /** The same checkpoint as a single file in nn.Linear layout: Conv1D weights transposed, bare names, no head. */
    private static Path asLinear(Model m, String name) throws Exception {
        Map<String, Tensor> t = new LinkedHashMap<>();
        m.tensors().forEach((n, v) -> {
            String bare = n.startsWith("transformer.") ? n.substring("transformer.".length()) : n;
            if (!bare.equals("score.weight")) {
                t.put(bare, CONV1D.contains(bare) ? v.transpose() : v);
            }
        });
        Path f = tmp.resolve(name + ".safetensors");
        HubFolder.writeSafetensors(f, t, DType.F32, Map.of());
        return f;
    }

    private static String[] args(Path b, List<Path> ms, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("merge", "--base", b.toString()));
        ms.forEach(m -> a.addAll(List.of("--model", m.toString())));
        a.addAll(List.of("--out", out.toString()));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    @Test
    void gpt2MergeEqualsTheMergeOfTheTransposedCheckpointBitForBit() throws Exception {
        Path out = tmp.resolve("merged-conv1d");
        Path report = tmp.resolve("conv1d.json");
        Wudi.ok(args(base, models, out, "--iters", "25", "--lr", "1e-4", "--report", report.toString()));

        Path linBase = asLinear(baseModel, "lin-base");
        List<Path> lin = new ArrayList<>();
        for (int i = 0; i < fineTunes.size(); i++) {
            lin.add(asLinear(fineTunes.get(i), "lin-" + i));
        }
        Path linOut = tmp.resolve("merged-linear.safetensors");
        Path linReport = tmp.resolve("linear.json");
        Wudi.ok(args(linBase, lin, linOut, "--iters", "25", "--lr", "1e-4", "--report", linReport.toString()));

        Map<String, Tensor> conv = Wudi.tensors(out);
        Map<String, Tensor> linear = Wudi.tensors(linOut);
        assertEquals(linear.keySet(), conv.keySet());
        for (String n : conv.keySet()) {
            Tensor want = CONV1D.contains(n) ? linear.get(n).transpose() : linear.get(n);
            assertArrayEquals(want.shape(), conv.get(n).shape(), n);
            assertArrayEquals(want.data(), conv.get(n).data(), n + ": transposed, optimised, transposed back");
        }
        JsonNode r = Wudi.json(report);
        JsonNode l = Wudi.json(linReport);
        for (String n : CONV1D) {
            assertEquals("in-out", Wudi.record(r, n).get("layout").asText(), n);
            assertEquals("out-in", Wudi.record(l, n).get("layout").asText(), n + " (no config.json: nn.Linear by shape)");
        }
        JsonNode cattn = Wudi.record(r, "h.0.attn.c_attn.weight");
        assertEquals(Wudi.record(l, "h.0.attn.c_attn.weight").get("loss_after").asDouble(),
                cattn.get("loss_after").asDouble(), "the loss is reported in the paper's orientation");
        assertTrue(cattn.get("loss_after").asDouble() < cattn.get("loss_before").asDouble());
        // The adapters changed c_attn only: the other Conv1D weights have three zero task vectors and keep W0.
        JsonNode cfc = Wudi.record(r, "h.0.mlp.c_fc.weight");
        assertEquals(List.of(1, 2, 3), ints(cfc.get("zero_task_vectors")));
        assertArrayEquals(baseModel.tensor("h.0.mlp.c_fc.weight").data(), conv.get("h.0.mlp.c_fc.weight").data());
    }

    /**
     * The reported loss is the paper's loss of the merged weight in the [out, in] orientation, recomputed here
     * from the definition; and the exact minimiser in that orientation has a lower paper loss than the exact
     * minimiser taken on the stored [in, out] side (what the engine did before).
     */
    @Test
    void reportedLossIsThePapersAndTheStoredSideIsWorse() throws Exception {
        Path right = tmp.resolve("exact-right");
        Path wrong = tmp.resolve("exact-wrong");
        Path rightReport = tmp.resolve("exact-right.json");
        Wudi.ok(args(base, models, right, "--solver", "exact", "--include", "c_attn\\.weight",
                "--report", rightReport.toString()));
        Wudi.ok(args(base, models, wrong, "--solver", "exact", "--include", "c_attn\\.weight",
                "--layout", "c_attn=out-in"));
        String n = "h.0.attn.c_attn.weight";
        List<float[]> taus = new ArrayList<>();
        Tensor w0 = baseModel.tensor(n);
        for (Model m : fineTunes) {
            taus.add(m.tensor("transformer." + n).minus(w0).transpose().data());   // [out, in] = [2304, 768]
        }
        double lossRight = paperLoss(Wudi.tensors(right).get(n).minus(w0), taus);
        double lossWrong = paperLoss(Wudi.tensors(wrong).get(n).minus(w0), taus);
        double lossSum = paperLoss(new Tensor(sum(taus), new long[] {768, 2304}).transpose(), taus);
        System.out.printf("GPT-2 c_attn, 3 real LoRA fine-tunes, paper loss: sum of task vectors %.4g, exact on"
                + " [out, in] %.4g, exact on the stored [in, out] %.4g%n", lossSum, lossRight, lossWrong);
        assertEquals(lossRight, Wudi.record(Wudi.json(rightReport), n).get("loss_after").asDouble(), 1e-3 * lossSum);
        assertTrue(lossRight < 0.5 * lossWrong, "the paper's orientation: " + lossRight + " vs stored side " + lossWrong);
        assertTrue(lossRight < lossSum);
    }

    /** L(tau_m) = sum_i ||(tau_m - tau_i) tau_i^T||^2 / ||tau_i||^2 with tau_m given as stored [in, out]. */
    private static double paperLoss(Tensor merged, List<float[]> taus) {
        Tensor t = merged.transpose();
        try (InterferenceLoss loss = new InterferenceLoss((int) t.shape()[0], (int) t.shape()[1], taus)) {
            return loss.loss(t.data());
        }
    }

    private static float[] sum(List<float[]> taus) {
        float[] s = new float[taus.get(0).length];
        for (float[] t : taus) {
            for (int i = 0; i < s.length; i++) {
                s[i] += t[i];
            }
        }
        return s;
    }

    private static List<Integer> ints(JsonNode a) {
        List<Integer> out = new ArrayList<>();
        a.forEach(x -> out.add(x.asInt()));
        return out;
    }

    /**
     * 300 Adam steps at lr 1e-4 on a GPT-2-shaped checkpoint small enough for the literal formula: the merged
     * Conv1D weights follow LiteralWudi run on the transposed task vectors. Tolerance as CpuWudiProblemTest's:
     * Adam's update is about +-lr per step whatever the gradient, so float32 rounding differences between the
     * one-GEMM gradient and the literal one move tau_m by at most a few ulps; 1e-5 of lr * steps. The task
     * vectors are of full rank and C = sum w_i tau_i^T tau_i is non-singular in every orientation: along a null
     * direction of C the gradient is zero in exact arithmetic, and Adam turns each side's rounding noise there
     * into steps of up to lr * noise / eps, which are not the same on both sides.
     */
    @Test
    void smallGpt2FollowsTheLiteralOptimisationInThePapersOrientation() throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = json.createObjectNode().put("model_type", "gpt2").put("n_embd", 16).put("n_layer", 1);
        Random r = new Random(5);
        LinkedHashMap<String, Tensor> b = new LinkedHashMap<>();
        b.put("h.0.attn.c_attn.weight", gaussian(r, 0.1, 16, 48));
        b.put("h.0.mlp.c_fc.weight", gaussian(r, 0.1, 16, 64));
        b.put("h.0.mlp.c_proj.weight", gaussian(r, 0.1, 24, 16));
        Model tiny = new Model(config, b);
        Path tb = HubFolder.write(tmp.resolve("tiny-base"), tiny, DType.F32);
        List<Model> fts = new ArrayList<>();
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Model m = HubModels.fineTune(tiny, "weight", 16, 0.01, 100 + i);
            fts.add(m);
            paths.add(HubFolder.write(tmp.resolve("tiny-ft" + i), m, DType.F32));
        }
        Path out = tmp.resolve("tiny-out");
        Wudi.ok(args(tb, paths, out, "--lr", "1e-4"));
        Map<String, Tensor> merged = Wudi.tensors(out);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f);
        double budget = cfg.lr() * cfg.iterations();
        for (String n : b.keySet()) {
            Tensor w0 = tiny.tensor(n);
            int out0 = (int) w0.shape()[1];
            int in0 = (int) w0.shape()[0];
            List<float[]> taus = new ArrayList<>();
            for (Model m : fts) {
                taus.add(m.tensor(n).minus(w0).transpose().data());
            }
            WudiResult lit = LiteralWudi.solve(out0, in0, taus, cfg, null);
            Tensor want = new Tensor(lit.tauM(), new long[] {out0, in0}).transpose().plus(w0);
            double moved = 0;
            double maxDiff = 0;
            float[] start = sum(taus);
            Tensor startStored = new Tensor(start, new long[] {out0, in0}).transpose();
            for (int i = 0; i < want.numel(); i++) {
                maxDiff = Math.max(maxDiff, Math.abs(want.data()[i] - merged.get(n).data()[i]));
                moved = Math.max(moved, Math.abs(want.data()[i] - w0.data()[i] - startStored.data()[i]));
            }
            System.out.printf("%s: max |ours - literal (transposed)| = %.3g of lr*steps; max move %.3g%n", n,
                    maxDiff / budget, moved);
            assertTrue(moved > 0.3 * budget, n + ": the optimisation moved tau_m");
            assertTrue(maxDiff < 1e-5 * budget, n + ": max |ours - literal| = " + maxDiff);
        }
        assertFalse(Files.exists(out.resolve("heads")), "no heads to save");
    }

    static Tensor gaussian(Random r, double std, long rows, long cols) {
        float[] v = new float[(int) (rows * cols)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextGaussian() * std);
        }
        return new Tensor(v, new long[] {rows, cols});
    }
}
