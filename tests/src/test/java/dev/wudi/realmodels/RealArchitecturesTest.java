package dev.wudi.realmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.PeftAdapter;
import dev.wudi.hub.PeftFixtures;
import dev.wudi.hub.Tensor;
import dev.wudi.hub.Wudi;
import dev.wudi.solver.InterferenceLoss;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The "done when": a GPT-2, a Llama, a Qwen-MoE-shaped (hub per-expert layout, and the fused 3-D one)
 * and a BERT-shaped checkpoint, each with task heads, added tokens and layers a fine-tune left alone, merge with
 * the defaults; the output has the base's names and shapes (vocabulary rows grown by the added tokens); and
 * every linear weight was optimised in the paper's orientation: its reported loss is the paper's loss of the
 * merged weight recomputed here from the definition with [out, in] task vectors, and below the loss of the sum.
 */
class RealArchitecturesTest {

    @TempDir
    static Path tmp;

    /** A base, its fine-tunes, how many rows each added to the vocabulary, and the expected layout of a linear. */
    record Case(String name, Model base, List<Model> models, int addedRows) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> cases() throws Exception {
        List<Arguments> out = new ArrayList<>();
        Model gpt2 = HubModels.gpt2(1, 40, 16, 21);
        // its fine-tunes are built from third-party adapters outside this repository: without them the case stays in
        // the list with no models, and each test reports it skipped (an assumption here would drop every case)
        out.add(Arguments.of(new Case("gpt2", gpt2, PeftFixtures.find() == null ? null : List.of(
                HubModels.gpt2SequenceClassifier(gpt2, adapter("gpt2-lora-cattn-r8/stathopoan__lightweight-ft")),
                HubModels.withExtraVocabRows(HubModels.gpt2SequenceClassifier(gpt2,
                        adapter("gpt2-lora-cattn-r8/ybriz__generative-ai")), 3, 5),
                HubModels.gpt2SequenceClassifier(gpt2, adapter("gpt2-lora-cattn-r4/sukhmandhawan__lightweight-ft"))),
                3)));

        Model llama = HubModels.llama(2, 64, 96, 4, 2, 80, false, 22);
        Model seqCls = HubModels.withClassifier(HubModels.fineTune(llama, "layers\\.0\\..*proj", 4, 0.01, 2), "score", 3, 4);
        seqCls.tensors().remove("lm_head.weight");          // LlamaForSequenceClassification has no lm_head
        out.add(Arguments.of(new Case("llama", llama, List.of(HubModels.fineTune(llama, "proj", 4, 0.01, 1), seqCls,
                HubModels.withExtraVocabRows(HubModels.fineTune(llama, "proj", 4, 0.01, 3), 2, 6)), 2)));

        Model moe = HubModels.qwen2Moe(1, 32, 4, 16, 24, 60, 23);
        out.add(Arguments.of(new Case("qwen2-moe", moe, List.of(HubModels.fineTune(moe, "experts|self_attn|shared", 3, 0.01, 1),
                HubModels.fineTune(moe, "experts\\.[01]\\.|self_attn", 3, 0.01, 2),
                HubModels.withExtraVocabRows(HubModels.fineTune(moe, "experts|self_attn", 3, 0.01, 3), 4, 7)), 4)));
        Model fused = HubModels.fusedExperts(moe, false);
        out.add(Arguments.of(new Case("qwen2-moe-fused", fused, List.of(
                HubModels.fineTune(fused, "experts|self_attn", 3, 0.01, 1),
                HubModels.fineTune(fused, "self_attn", 3, 0.01, 2),
                HubModels.fineTune(fused, "experts|self_attn|shared", 3, 0.01, 3)), 0)));

        Model bert = HubModels.withClassifier(HubModels.bert(2, 64, 128, 60, 24), "classifier", 2, 8);
        out.add(Arguments.of(new Case("bert", bert, List.of(
                HubModels.withClassifier(HubModels.fineTune(bert, "encoder", 4, 0.01, 1), "classifier", 2, 11),
                HubModels.withClassifier(HubModels.fineTune(bert, "layer\\.0\\.", 4, 0.01, 2), "classifier", 3, 12),
                HubModels.withExtraVocabRows(HubModels.withClassifier(HubModels.fineTune(bert, "encoder", 4, 0.01, 3),
                        "classifier", 2, 13), 5, 9)), 5)));
        return out.stream();
    }

    /**
     * Writes the case's base and models as F32 folders (named CASE-TAGbase, CASE-TAG0, ...) and adds the words
     * `merge --base BASE --model M1 ...` to args; returns the base's folder.
     */
    private static Path inputs(Case c, String tag, List<String> args) throws IOException {
        Path base = HubFolder.write(tmp.resolve(c.name() + "-" + tag + "base"), c.base(), DType.F32);
        args.addAll(List.of("merge", "--base", base.toString()));
        for (int i = 0; i < c.models().size(); i++) {
            args.add("--model");
            args.add(HubFolder.write(tmp.resolve(c.name() + "-" + tag + i), c.models().get(i), DType.F32).toString());
        }
        return base;
    }

    private static void assumeFixtures(Case c) {
        assumeTrue(c.models() != null, PeftFixtures.ABSENT + " (looked in " + PeftFixtures.tried() + ")");
    }

    private static PeftAdapter adapter(String name) throws Exception {
        return PeftAdapter.read(PeftFixtures.adapter(name));
    }

    /**
     * The default merge (no solver option) on every architecture, transposed Conv1D weights, stacked experts and
     * matrices no model changed included: each WUDI weight is W_0 + 0.5 tau_m of the unscaled spectral merge where its
     * task vectors span a quarter of the input space or more, W_0 + 0.75 x the models' average where they span less
     * (these fine-tunes are of low rank), as the report's coefficient says; every other tensor is averaged.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theDefaultMergeTakesHalfTheSpectralSolutionOrTheAverageByCoverage(Case c) throws Exception {
        assumeFixtures(c);
        List<String> args = new ArrayList<>();
        Path base = inputs(c, "d", args);
        Path report = tmp.resolve(c.name() + "-default.json");
        Map<String, Tensor> merged = merge(c.name() + "-default", args, "--report", report.toString());
        Map<String, Tensor> spectral = merge(c.name() + "-spectral", args, "--solver", "spectral", "--rest", "average");
        Map<String, Tensor> average = merge(c.name() + "-average", args, "--method", "average");
        Map<String, Tensor> w0 = Wudi.tensors(base);
        int[] taken = new int[2];
        for (JsonNode t : Wudi.json(report).get("tensors")) {
            String n = t.get("name").asText();
            float[] h = merged.get(n).data();
            if (!t.get("method").asText().equals("wudi")) {
                assertArrayEquals(spectral.get(n).data(), h, n + ": the rest, averaged by both");
                continue;
            }
            JsonNode details = t.get("solver");
            if (details != null && details.has("all_task_vectors_zero")) {
                assertArrayEquals(w0.get(n).data(), h, n + ": no model changed it");
                continue;
            }
            double coefficient = details.get("coefficient").asDouble();
            double coverage = details.get("coverage").asDouble();
            assertEquals(coverage < 0.25 ? 0.0 : 0.5, coefficient, n + " " + details);
            taken[coefficient == 0 ? 0 : 1]++;
            float[] b = w0.get(n).data();
            float[] f = spectral.get(n).data();
            float[] a = average.get(n).data();
            double magnitude = 0;                        // the tensor's largest |W_0| + |W|: what each rounding scales
            for (int j = 0; j < h.length; j++) {
                magnitude = Math.max(magnitude, Math.abs(b[j]) + Math.abs(a[j]) + Math.abs(f[j]));
            }
            for (int j = 0; j < h.length; j++) {
                // half: W_0 + 0.5 (W_spectral - W_0), W_spectral rounded once, then the difference and the halving once
                // more; average: W_0 + 0.75 (W_average - W_0), the average of the W_i a few roundings off; of terms no
                // larger than the tensor's magnitude (an element near zero cancels larger terms)
                double to = coefficient == 0 ? a[j] : f[j];
                double want = b[j] + (coefficient == 0 ? 0.75 : 0.5) * (to - b[j]);
                double tol = 8 * 0x1p-24 * magnitude;
                assertEquals(want, h[j], tol, n + "[" + j + "] coefficient " + coefficient);
            }
        }
        assertTrue(taken[0] + taken[1] > 0, c.name() + ": no WUDI tensor merged");
    }

    private Map<String, Tensor> merge(String name, List<String> inputs, String... more) throws Exception {
        Path out = tmp.resolve(name);
        List<String> a = new ArrayList<>(inputs);
        a.addAll(List.of(more));
        a.addAll(List.of("--out", out.toString(), "-q"));
        Wudi.ok(a.toArray(new String[0]));
        return Wudi.tensors(out);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void mergesWithDefaultsInThePapersOrientation(Case c) throws Exception {
        assumeFixtures(c);
        List<String> args = new ArrayList<>();
        Path base = inputs(c, "", args);
        Path out = tmp.resolve(c.name() + "-merged");
        Path report = tmp.resolve(c.name() + ".json");
        // the paper's merge (W = W_0 + tau_m, so the merged weight's loss is the one reported)
        args.addAll(List.of("--solver", "adam", "--out", out.toString(), "--report", report.toString()));
        Wudi.ok(args.toArray(new String[0]));

        // the output loads as the base's architecture: same names, same shapes but the grown vocabulary
        Map<String, List<Long>> want = Wudi.shapes(base);
        Map<String, List<Long>> got = Wudi.shapes(out);
        assertEquals(List.copyOf(want.keySet()), List.copyOf(got.keySet()), c.name());
        JsonNode config = Wudi.json(out.resolve("config.json"));
        long vocab = c.base().config().get("vocab_size").asLong();
        for (String n : want.keySet()) {
            List<Long> s = new ArrayList<>(want.get(n));
            if (c.addedRows() > 0 && s.get(0) == vocab && n.matches(".*(embed_tokens|wte|word_embeddings|lm_head).*")) {
                s.set(0, vocab + c.addedRows());
            }
            assertEquals(s, got.get(n), n);
        }
        assertEquals(vocab + c.addedRows(), config.get("vocab_size").asLong());
        assertEquals(c.base().config().get("model_type"), config.get("model_type"));
        assertEquals(c.base().config().get("architectures"), config.get("architectures"));

        // every linear weight: WUDI, in the paper's orientation, reported loss = the paper's loss recomputed here
        JsonNode r = Wudi.json(report);
        Map<String, Tensor> merged = Wudi.tensors(out);
        int linear = 0;
        int optimised = 0;
        for (JsonNode t : r.get("tensors")) {
            if (!t.get("role").asText().equals("linear")) {
                assertTrue(!t.get("method").asText().equals("wudi"), t.toString());
                continue;
            }
            linear++;
            String n = t.get("name").asText();
            assertEquals("wudi", t.get("method").asText(), n);
            String layout = t.get("layout").asText();
            assertEquals(expectedLayout(c, n), layout, n);
            double[] losses = paperLosses(c, n, merged.get(n), layout);
            double before = t.get("loss_before").asDouble();
            double after = t.get("loss_after").asDouble();
            // The engine's loss is <tau C, tau> - 2 <tau, D> + K from float32 products: each term is at most
            // S = sum ||tau_i||^2 and carries GEMM rounding of about sqrt(in) u32 relative, so where the terms
            // cancel (one task: the loss at the sum is 0) the difference is that noise, not a relative error.
            double noise = 8 * Math.sqrt(losses[3]) * 0x1p-24 * losses[2];
            assertEquals(losses[0], before, 1e-4 * losses[0] + noise, n + " loss at the sum");
            assertEquals(losses[1], after, 1e-3 * losses[0] + noise, n + " loss of the merged weight");
            if (losses[0] > 1000 * noise) {
                optimised++;
                assertTrue(after < before, n + ": " + after + " < " + before);
            }
        }
        assertTrue(linear > 0 && optimised > 0, c.name() + ": " + linear + " linear weights, " + optimised + " optimised");
    }

    private static String expectedLayout(Case c, String name) {
        if (c.name().equals("gpt2")) {
            return "in-out";
        }
        return name.endsWith("experts.gate_up_proj") || name.endsWith("experts.down_proj") ? "experts-out-in" : "out-in";
    }

    /** The model's tensor for a base name (GPT2ForSequenceClassification saves the body under "transformer."). */
    private static Tensor of(Model m, String name) {
        Tensor t = m.tensors().get(name);
        return t != null ? t : m.tensors().get("transformer." + name);
    }

    /**
     * The paper's loss sum_i ||(tau_m - tau_i) tau_i^T||^2 / ||tau_i||^2, summed over the tensor's matrices, at the
     * sum of the task vectors and at the merged weight, every matrix turned into [out, in]; then the scale
     * S = sum_i ||tau_i||_F^2 and the inner dimension (in).
     */
    private static double[] paperLosses(Case c, String name, Tensor merged, String layout) {
        Tensor w0 = c.base().tensor(name);
        long[] s = w0.shape();
        int count = s.length == 3 ? (int) s[0] : 1;
        int a = (int) s[s.length - 2];
        int b = (int) s[s.length - 1];
        boolean transposed = layout.equals("in-out");
        int rows = transposed ? b : a;
        int cols = transposed ? a : b;
        double[] out = new double[4];
        out[3] = cols;
        for (int e = 0; e < count; e++) {
            List<float[]> taus = new ArrayList<>();
            float[] sum = new float[rows * cols];
            for (Model m : c.models()) {
                Tensor t = of(m, name);
                if (t == null || !Arrays.equals(t.shape(), s)) {
                    continue;
                }
                float[] tau = matrix(t.minus(w0), e, a, b, transposed);
                taus.add(tau);
                for (float x : tau) {
                    out[2] += (double) x * x;
                }
                for (int j = 0; j < sum.length; j++) {
                    sum[j] += tau[j];
                }
            }
            float[] tauM = matrix(merged.minus(w0), e, a, b, transposed);
            try (InterferenceLoss loss = new InterferenceLoss(rows, cols, taus)) {
                out[0] += loss.loss(sum);
                out[1] += loss.loss(tauM);
            }
        }
        return out;
    }

    private static float[] matrix(Tensor t, int e, int a, int b, boolean transposed) {
        Tensor m = new Tensor(Arrays.copyOfRange(t.data(), e * a * b, (e + 1) * a * b), new long[] {a, b});
        return (transposed ? m.transpose() : m).data();
    }

}
