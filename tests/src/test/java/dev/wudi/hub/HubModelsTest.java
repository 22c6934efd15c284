package dev.wudi.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checkpoint builders themselves: real-adapter deltas, layouts, and folders the engine can open. */
class HubModelsTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GPT2_R8 = "gpt2-lora-cattn-r8/stathopoan__lightweight-ft"; // r 8, alpha 16
    private static final String GPT2_ZERO_B = "gpt2-lora-cattn-r4/sukhmandhawan__lightweight-ft";
    private static final String DISTILBERT = "distilbert-lora-qv-r8/dayanidhi04__emotion-6class"; // r 8, alpha 16

    @TempDir
    Path tmp;

    // ---------------------------------------------------------------- independent references

    /** A tensor straight from the adapter file, without PeftAdapter. */
    private static Tensor readRaw(Path adapterDir, String name) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(adapterDir.resolve(PeftAdapter.WEIGHTS))) {
            TensorInfo t = f.tensor(name);
            float[] a = new float[(int) t.numel()];
            f.readFloats(t, 0, a, 0, a.length);
            return new Tensor(a, t.shape());
        }
    }

    /** lora_alpha / r read from adapter_config.json by hand. */
    private static double plainScaling(Path adapterDir) throws IOException {
        JsonNode c = JSON.readTree(adapterDir.resolve(PeftAdapter.CONFIG).toFile());
        return c.get("lora_alpha").asDouble() / c.get("r").asInt();
    }

    /** scaling * sum_k B[out, k] A[k, in], rounded once. */
    private static float loraEntry(Tensor a, Tensor b, double scaling, int out, int in) {
        double s = 0;
        for (int k = 0; k < a.dim(0); k++) {
            s += (double) b.at(out, k) * a.at(k, in);
        }
        return (float) (scaling * s);
    }

    /**
     * Numerical rank of a matrix, sketched: Y = M X for Gaussian X with {@code probes} columns, then
     * modified Gram-Schmidt on Y's columns; a column counts when its residual keeps more than 1e-4 of
     * the largest column norm (float32 rounding noise sits far below that, a real direction far above).
     */
    private static int sketchRank(Tensor m, int probes, long seed) {
        int rows = m.dim(0);
        int cols = m.dim(1);
        Random r = new Random(seed);
        double[][] x = new double[probes][cols];
        for (double[] col : x) {
            for (int j = 0; j < cols; j++) {
                col[j] = r.nextGaussian();
            }
        }
        double[][] y = new double[probes][rows];
        float[] d = m.data();
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double v = d[i * cols + j];
                if (v != 0) {
                    for (int p = 0; p < probes; p++) {
                        y[p][i] += v * x[p][j];
                    }
                }
            }
        }
        double maxNorm = 0;
        for (double[] col : y) {
            maxNorm = Math.max(maxNorm, norm(col));
        }
        if (maxNorm == 0) {
            return 0;
        }
        List<double[]> basis = new ArrayList<>();
        for (double[] col : y) {
            double[] v = col.clone();
            for (double[] q : basis) {
                double dot = 0;
                for (int i = 0; i < rows; i++) {
                    dot += q[i] * v[i];
                }
                for (int i = 0; i < rows; i++) {
                    v[i] -= dot * q[i];
                }
            }
            double n = norm(v);
            if (n > 1e-4 * maxNorm) {
                for (int i = 0; i < rows; i++) {
                    v[i] /= n;
                }
                basis.add(v);
            }
        }
        return basis.size();
    }

    private static double norm(double[] v) {
        double s = 0;
        for (double e : v) {
            s += e * e;
        }
        return Math.sqrt(s);
    }

    /** One expert's matrix out of a stacked [E, a, b] tensor. */
    private static Tensor slice(Tensor stacked, int e) {
        int a = stacked.dim(1);
        int b = stacked.dim(2);
        float[] out = new float[a * b];
        System.arraycopy(stacked.data(), e * a * b, out, 0, a * b);
        return new Tensor(out, new long[] {a, b});
    }

    // ---------------------------------------------------------------- real adapters

    @Test
    void gpt2FineTuneFromRealAdapterIsBasePlusScaledTransposedLora() throws IOException {
        Path dir = PeftFixtures.adapter(GPT2_R8);
        PeftAdapter adapter = PeftAdapter.read(dir);
        assertTrue(adapter.fanInFanOut());
        assertEquals(List.of("c_attn"), adapter.targetModules());
        assertEquals(12, adapter.modules().size());
        assertEquals(2.0, adapter.scaling("transformer.h.0.attn.c_attn"), 0);

        Model base = HubModels.gpt2(1, 64, 16, 7);
        Model ft = HubModels.gpt2SequenceClassifier(base, adapter);

        Set<String> expected = base.tensors().keySet().stream().map(n -> "transformer." + n)
                .collect(Collectors.toCollection(LinkedHashSet::new));
        expected.add("score.weight");
        assertEquals(List.copyOf(expected), List.copyOf(ft.tensors().keySet()));
        assertArrayEquals(new long[] {6, 768}, ft.tensor("score.weight").shape());
        assertEquals("GPT2ForSequenceClassification", ft.config().get("architectures").get(0).asText());
        assertEquals(6, ft.config().get("id2label").size());
        for (String n : base.tensors().keySet()) {
            if (!n.equals("h.0.attn.c_attn.weight")) {
                assertArrayEquals(base.tensor(n).data(), ft.tensor("transformer." + n).data(), n);
            }
        }

        Tensor w0 = base.tensor("h.0.attn.c_attn.weight");
        Tensor w1 = ft.tensor("transformer.h.0.attn.c_attn.weight");
        assertArrayEquals(new long[] {768, 2304}, w1.shape());
        Tensor a = readRaw(dir, "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight");
        Tensor b = readRaw(dir, "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight");
        double scaling = plainScaling(dir);
        Random r = new Random(1);
        for (int s = 0; s < 400; s++) {
            int in = r.nextInt(768);
            int out = r.nextInt(2304);
            // Conv1D stores [in, out], so the [out, in] LoRA product lands transposed
            float want = w0.at(in, out) + loraEntry(a, b, scaling, out, in);
            assertEquals(want, w1.at(in, out), Math.ulp(want), "entry [" + in + ", " + out + "]");
        }
        Tensor delta = w1.minus(w0);
        int rank = sketchRank(delta, adapter.r() + 4, 2);
        assertTrue(rank >= 1 && rank <= adapter.r(), "rank of the c_attn delta " + rank + " vs r " + adapter.r());
    }

    @Test
    void zeroLoraBAdapterLeavesTheBodyExactlyTheBase() throws IOException {
        PeftAdapter adapter = PeftAdapter.read(PeftFixtures.adapter(GPT2_ZERO_B));
        assertEquals(4, adapter.r());
        assertEquals(4.0, adapter.scaling("transformer.h.3.attn.c_attn"), 0);
        Map<String, Tensor> deltas = adapter.denseDeltas();
        assertEquals(12, deltas.size());
        for (Map.Entry<String, Tensor> e : deltas.entrySet()) {
            assertArrayEquals(new long[] {768, 2304}, e.getValue().shape(), e.getKey());
            for (float v : e.getValue().data()) {
                assertEquals(0f, v, e.getKey());
            }
        }
        Model base = HubModels.gpt2(1, 64, 16, 3);
        Model ft = HubModels.gpt2SequenceClassifier(base, adapter);
        assertArrayEquals(base.tensor("h.0.attn.c_attn.weight").data(),
                ft.tensor("transformer.h.0.attn.c_attn.weight").data());
        assertArrayEquals(new long[] {10, 768}, ft.tensor("score.weight").shape());
        assertEquals(10, ft.config().get("label2id").size());
        assertEquals(HubModels.GPT2_PAD, ft.config().get("pad_token_id").asInt());
    }

    @Test
    void distilbertAdapterGivesLinearLayoutDeltasAndItsHead() throws IOException {
        Path dir = PeftFixtures.adapter(DISTILBERT);
        PeftAdapter adapter = PeftAdapter.read(dir);
        assertFalse(adapter.fanInFanOut());
        assertEquals(List.of("q_lin", "v_lin"), adapter.targetModules());
        assertTrue(adapter.modulesToSave().contains("pre_classifier"));
        assertEquals(Set.of("classifier.weight", "classifier.bias", "pre_classifier.weight", "pre_classifier.bias"),
                adapter.fullTensors().keySet());
        assertEquals(12, adapter.modules().size());

        String q0 = "distilbert.transformer.layer.0.attention.q_lin";
        Tensor delta = adapter.denseDelta(q0);
        Tensor a = readRaw(dir, "base_model.model." + q0 + ".lora_A.weight");
        Tensor b = readRaw(dir, "base_model.model." + q0 + ".lora_B.weight");
        double scaling = plainScaling(dir);
        Random r = new Random(2);
        for (int s = 0; s < 400; s++) {
            int out = r.nextInt(768);
            int in = r.nextInt(768);
            // nn.Linear stores [out, in]: no transpose (a square weight would hide one from the shape)
            assertEquals(loraEntry(a, b, scaling, out, in), delta.at(out, in), 0f, "[" + out + ", " + in + "]");
        }

        Model base = HubModels.withDistilbertHead(HubModels.distilbert(1, 32, 64, 5), 2, 5);
        Model ft = HubModels.distilbertSequenceClassifier(base, adapter);
        assertEquals(base.tensors().keySet(), ft.tensors().keySet());
        assertArrayEquals(new long[] {6, 768}, ft.tensor("classifier.weight").shape());
        assertEquals(6, ft.config().get("id2label").size());
        assertArrayEquals(adapter.fullTensors().get("pre_classifier.weight").data(),
                ft.tensor("pre_classifier.weight").data());
        assertArrayEquals(base.tensor(q0 + ".weight").plus(delta).data(), ft.tensor(q0 + ".weight").data());
        String k0 = "distilbert.transformer.layer.0.attention.k_lin.weight";
        assertArrayEquals(base.tensor(k0).data(), ft.tensor(k0).data());
    }

    // ---------------------------------------------------------------- adapter config rules

    @Test
    void rankAndAlphaPatternsAndRsloraSetEachModulesScaling() throws IOException {
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(PeftAdapter.CONFIG), """
                {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": true, "fan_in_fan_out": false,
                 "rank_pattern": {"layers.1.mlp.up_proj": 2}, "alpha_pattern": {"up_proj": 3},
                 "target_modules": ["up_proj", "q_proj"], "modules_to_save": ["lm_head"]}
                """);
        Map<String, Integer> ranks = new LinkedHashMap<>();
        ranks.put("model.layers.0.mlp.up_proj", 4);
        ranks.put("model.layers.1.mlp.up_proj", 2);
        ranks.put("model.layers.11.mlp.up_proj", 4); // "layers.1." must not match layer 11
        ranks.put("model.layers.0.self_attn.q_proj", 4);
        ranks.put("model.layers.0.mlp.gate_up_proj", 4); // "up_proj" must not match gate_up_proj
        Map<String, Tensor> file = new LinkedHashMap<>();
        long seed = 10;
        for (Map.Entry<String, Integer> e : ranks.entrySet()) {
            String p = "base_model.model." + e.getKey();
            file.put(p + ".lora_A.weight", SeededInit.normal(seed++, "A", 1, e.getValue(), 6));
            file.put(p + ".lora_B.weight", SeededInit.normal(seed++, "B", 1, 5, e.getValue()));
        }
        Tensor trained = SeededInit.normal(1, "head", 1, 7, 6);
        file.put("base_model.model.lm_head.original_module.weight", SeededInit.normal(2, "head", 1, 7, 6));
        file.put("base_model.model.lm_head.modules_to_save.default.weight", trained);
        HubFolder.writeSafetensors(dir.resolve(PeftAdapter.WEIGHTS), file, DType.F32, Map.of());

        PeftAdapter adapter = PeftAdapter.read(dir);
        Map<String, Double> scaling = Map.of(
                "model.layers.0.mlp.up_proj", 3 / Math.sqrt(4),
                "model.layers.1.mlp.up_proj", 3 / Math.sqrt(2),
                "model.layers.11.mlp.up_proj", 3 / Math.sqrt(4),
                "model.layers.0.self_attn.q_proj", 8 / Math.sqrt(4),
                "model.layers.0.mlp.gate_up_proj", 8 / Math.sqrt(4));
        Map<String, Tensor> deltas = adapter.denseDeltas();
        assertEquals(ranks.keySet(), deltas.keySet());
        for (Map.Entry<String, Double> e : scaling.entrySet()) {
            assertEquals(e.getValue(), adapter.scaling(e.getKey()), 1e-15, e.getKey());
            Tensor a = file.get("base_model.model." + e.getKey() + ".lora_A.weight");
            Tensor b = file.get("base_model.model." + e.getKey() + ".lora_B.weight");
            Tensor d = deltas.get(e.getKey());
            assertArrayEquals(new long[] {5, 6}, d.shape());
            for (int o = 0; o < 5; o++) {
                for (int i = 0; i < 6; i++) {
                    assertEquals(loraEntry(a, b, e.getValue(), o, i), d.at(o, i), 0f, e.getKey());
                }
            }
        }
        assertEquals(Set.of("lm_head.weight"), adapter.fullTensors().keySet());
        assertArrayEquals(trained.data(), adapter.fullTensors().get("lm_head.weight").data());
    }

    // ---------------------------------------------------------------- architectures

    @Test
    void buildersUseTransformersNamesAndShapesAndArePerNameDeterministic() {
        Model one = HubModels.gpt2(1, 64, 16, 4);
        Model two = HubModels.gpt2(2, 64, 16, 4);
        assertEquals(2 + 12 + 2, one.tensors().size());
        assertArrayEquals(new long[] {64, 768}, one.tensor("wte.weight").shape());
        assertArrayEquals(new long[] {16, 768}, one.tensor("wpe.weight").shape());
        assertArrayEquals(new long[] {768, 2304}, one.tensor("h.0.attn.c_attn.weight").shape());
        assertArrayEquals(new long[] {768, 3072}, one.tensor("h.0.mlp.c_fc.weight").shape());
        assertArrayEquals(new long[] {3072, 768}, one.tensor("h.0.mlp.c_proj.weight").shape());
        assertEquals(1, one.config().get("n_layer").asInt());
        assertTrue(one.config().get("n_inner").isNull());
        assertArrayEquals(one.tensor("h.0.attn.c_attn.weight").data(), two.tensor("h.0.attn.c_attn.weight").data());
        assertFalse(Arrays.equals(one.tensor("wte.weight").data(),
                HubModels.gpt2(1, 64, 16, 5).tensor("wte.weight").data()));
        double sd = stdDev(one.tensor("h.0.attn.c_attn.weight"));
        assertEquals(0.02, sd, 0.0005);

        Model llama = HubModels.llama(2, 32, 48, 4, 2, 40, true, 1);
        assertArrayEquals(new long[] {16, 32}, llama.tensor("model.layers.1.self_attn.k_proj.weight").shape());
        assertArrayEquals(new long[] {48, 32}, llama.tensor("model.layers.1.mlp.gate_proj.weight").shape());
        assertArrayEquals(new long[] {32, 48}, llama.tensor("model.layers.1.mlp.down_proj.weight").shape());
        assertFalse(llama.tensors().containsKey("lm_head.weight"));
        assertTrue(HubModels.llama(2, 32, 48, 4, 2, 40, false, 1).tensors().containsKey("lm_head.weight"));

        Model qwen = HubModels.qwen2Moe(1, 16, 3, 6, 8, 32, 2);
        assertArrayEquals(new long[] {3, 16}, qwen.tensor("model.layers.0.mlp.gate.weight").shape());
        assertArrayEquals(new long[] {1, 16}, qwen.tensor("model.layers.0.mlp.shared_expert_gate.weight").shape());
        assertArrayEquals(new long[] {8}, qwen.tensor("model.layers.0.self_attn.k_proj.bias").shape());
        assertEquals(3, qwen.config().get("num_experts").asInt());

        Model bert = HubModels.withClassifier(HubModels.bert(2, 32, 48, 40, 3), "classifier", 3, 3);
        assertArrayEquals(new long[] {48, 32}, bert.tensor("bert.encoder.layer.1.intermediate.dense.weight").shape());
        assertArrayEquals(new long[] {3, 32}, bert.tensor("classifier.weight").shape());
        assertEquals("BertForSequenceClassification", bert.config().get("architectures").get(0).asText());
        assertEquals("LABEL_2", bert.config().get("id2label").get("2").asText());
    }

    private static double stdDev(Tensor t) {
        double s = 0;
        for (float v : t.data()) {
            s += (double) v * v;
        }
        return Math.sqrt(s / t.numel());
    }

    @Test
    void fusedExpertsHoldExactlyTheTwoDimensionalExperts() {
        int experts = 3;
        int inter = 6;
        int hidden = 16;
        Model q = HubModels.qwen2Moe(2, hidden, experts, inter, 8, 32, 9);
        Model f = HubModels.fusedExperts(q, false);
        Model g = HubModels.fusedExperts(q, true);
        assertEquals("qwen2_moe", f.config().get("model_type").asText());
        assertEquals("gpt_oss", g.config().get("model_type").asText());
        assertEquals(q.tensors().size() - 2 * (3 * experts - 2), f.tensors().size());
        assertTrue(f.tensors().keySet().stream().noneMatch(n -> n.matches(".*\\.experts\\.\\d+\\..*")));
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".mlp.";
            assertArrayEquals(new long[] {experts, 2 * inter, hidden}, f.tensor(p + "experts.gate_up_proj").shape());
            assertArrayEquals(new long[] {experts, hidden, inter}, f.tensor(p + "experts.down_proj").shape());
            assertArrayEquals(new long[] {experts, hidden, 2 * inter}, g.tensor(p + "experts.gate_up_proj").shape());
            assertArrayEquals(new long[] {experts, inter, hidden}, g.tensor(p + "experts.down_proj").shape());
            assertArrayEquals(q.tensor(p + "gate.weight").data(), g.tensor(p + "gate.weight").data());
            for (int e = 0; e < experts; e++) {
                Tensor gate = q.tensor(p + "experts." + e + ".gate_proj.weight");
                Tensor up = q.tensor(p + "experts." + e + ".up_proj.weight");
                Tensor down = q.tensor(p + "experts." + e + ".down_proj.weight");
                Tensor fgu = slice(f.tensor(p + "experts.gate_up_proj"), e);
                Tensor fd = slice(f.tensor(p + "experts.down_proj"), e);
                Tensor ggu = slice(g.tensor(p + "experts.gate_up_proj"), e);
                Tensor gd = slice(g.tensor(p + "experts.down_proj"), e);
                for (int i = 0; i < inter; i++) {
                    for (int h = 0; h < hidden; h++) {
                        assertEquals(gate.at(i, h), fgu.at(i, h));
                        assertEquals(up.at(i, h), fgu.at(inter + i, h));
                        assertEquals(down.at(h, i), fd.at(h, i));
                        assertEquals(gate.at(i, h), ggu.at(h, i));
                        assertEquals(up.at(i, h), ggu.at(h, inter + i));
                        assertEquals(down.at(h, i), gd.at(i, h));
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- edits

    @Test
    void lowRankFineTuneTouchesOnlyMatchingWeightsAtBoundedRank() {
        Model base = HubModels.llama(2, 32, 48, 4, 2, 40, false, 1);
        Model ft = HubModels.fineTune(base, "layers\\.1\\..*_proj\\.weight$", 2, 1e-3, 9);
        int changed = 0;
        for (String n : base.tensors().keySet()) {
            Tensor d = ft.tensor(n).minus(base.tensor(n));
            if (n.startsWith("model.layers.1.") && n.endsWith("_proj.weight")) {
                int rank = sketchRank(d, Math.min(d.dim(1), 8), 3);
                assertTrue(rank >= 1 && rank <= 2, n + " delta rank " + rank);
                changed++;
            } else {
                assertArrayEquals(base.tensor(n).data(), ft.tensor(n).data(), n);
            }
        }
        assertEquals(7, changed);

        Model fused = HubModels.fusedExperts(HubModels.qwen2Moe(1, 16, 3, 6, 8, 32, 2), false);
        String gu = "model.layers.0.mlp.experts.gate_up_proj";
        Tensor d = HubModels.lowRankDeltas(fused, "experts\\.gate_up_proj$", 1, 1e-3, 4).get(gu);
        for (int e = 0; e < 3; e++) {
            assertEquals(1, sketchRank(slice(d, e), 6, e), "expert " + e);
        }
        assertNotEquals(slice(d, 0).at(0, 0), slice(d, 1).at(0, 0));
        assertThrows(IllegalArgumentException.class, () -> HubModels.fineTune(base, "no_such_weight", 1, 1e-3, 1));
    }

    @Test
    void extraVocabRowsGrowOnlyVocabularyTensorsAndKeepOldRows() {
        Model llama = HubModels.llama(1, 32, 48, 4, 2, 40, false, 1);
        Model grown = HubModels.withExtraVocabRows(llama, 3, 8);
        assertEquals(43, grown.config().get("vocab_size").asInt());
        for (String n : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            Tensor old = llama.tensor(n);
            Tensor now = grown.tensor(n);
            assertArrayEquals(new long[] {43, 32}, now.shape(), n);
            assertArrayEquals(old.data(), Arrays.copyOf(now.data(), old.numel()), n);
            assertTrue(stdDev(new Tensor(Arrays.copyOfRange(now.data(), old.numel(), now.numel()),
                    new long[] {3, 32})) > 0.01, n + " new rows are random");
        }
        // GPT-2 with as many positions as tokens: wpe has vocab-many rows but is not a vocabulary tensor
        Model gpt2 = HubModels.withExtraVocabRows(HubModels.gpt2(1, 16, 16, 2), 2, 8);
        assertArrayEquals(new long[] {18, 768}, gpt2.tensor("wte.weight").shape());
        assertArrayEquals(new long[] {16, 768}, gpt2.tensor("wpe.weight").shape());
        Model tied = HubModels.withExtraVocabRows(HubModels.llama(1, 32, 48, 4, 2, 40, true, 1), 1, 8);
        assertFalse(tied.tensors().containsKey("lm_head.weight"));
        assertArrayEquals(new long[] {41, 32}, tied.tensor("model.embed_tokens.weight").shape());
    }

    // ---------------------------------------------------------------- folders

    @Test
    void writtenFoldersOpenAsCheckpointsWithTheirNamesShapesAndConfig() throws IOException {
        Model llama = HubModels.llama(2, 32, 48, 4, 2, 40, false, 1);
        Model moe = HubModels.fusedExperts(HubModels.qwen2Moe(1, 16, 2, 6, 8, 32, 2), true);
        Model bert = HubModels.withClassifier(HubModels.bert(1, 32, 48, 40, 3), "classifier", 3, 3);
        Model gpt2 = HubModels.gpt2(1, 64, 16, 7);
        Map<String, RawTensor> ids = Map.of("bert.embeddings.position_ids",
                RawTensor.arangeI64(1, HubModels.BERT_POSITIONS));

        check(HubFolder.write(tmp.resolve("llama"), llama, DType.F32), llama, DType.F32, Map.of());
        check(HubFolder.write(tmp.resolve("moe"), moe, DType.BF16), moe, DType.BF16, Map.of());
        check(HubFolder.write(tmp.resolve("bert"), bert.config(), bert.tensors(), DType.F16, ids), bert, DType.F16, ids);
        check(HubFolder.write(tmp.resolve("gpt2"), gpt2, DType.BF16), gpt2, DType.BF16, Map.of());
        assertEquals("gpt_oss", JSON.readTree(tmp.resolve("moe/config.json").toFile()).get("model_type").asText());
        assertEquals("float32", moe.config().get("torch_dtype").asText(), "the model's own config is left alone");
    }

    private static void check(Path dir, Model m, DType dtype, Map<String, RawTensor> extras) throws IOException {
        JsonNode cfg = JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals(m.config().get("model_type"), cfg.get("model_type"));
        assertEquals(m.config().get("architectures"), cfg.get("architectures"));
        assertEquals(HubFolder.torchName(dtype), cfg.get("torch_dtype").asText());
        List<String> names = new ArrayList<>(m.tensors().keySet());
        names.addAll(extras.keySet());
        double tol = dtype == DType.F32 ? 0 : dtype == DType.BF16 ? 1.0 / 256 : 1.0 / 2048;
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals("pt", c.metadata().get("format"));
            assertEquals(names, c.names());
            for (Map.Entry<String, Tensor> e : m.tensors().entrySet()) {
                TensorRef ref = c.tensor(e.getKey());
                assertEquals(dtype, ref.info().dtype(), e.getKey());
                assertArrayEquals(e.getValue().shape(), ref.info().shape(), e.getKey());
                float[] back = new float[e.getValue().numel()];
                ref.readAll(back);
                float[] want = e.getValue().data();
                for (int i = 0; i < back.length; i += Math.max(1, back.length / 97)) {
                    assertEquals(want[i], back[i], Math.abs(want[i]) * tol, e.getKey() + "[" + i + "]");
                }
            }
            for (Map.Entry<String, RawTensor> e : extras.entrySet()) {
                assertEquals(e.getValue().dtype(), c.tensor(e.getKey()).info().dtype());
                assertArrayEquals(e.getValue().shape(), c.tensor(e.getKey()).info().shape());
            }
        }
    }
}
