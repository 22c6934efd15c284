package dev.wudi.realmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.DType;
import dev.wudi.hub.AdapterFolders;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.PeftAdapter;
import dev.wudi.hub.PeftFixtures;
import dev.wudi.hub.Tensor;
import dev.wudi.hub.Wudi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT LoRA adapters as --model inputs and --as-adapter outputs, on real third-party adapters
 * (../shared/fixtures/peft-real) cut to the depth of small GPT-2 and DistilBERT bases: an adapter merges as the full
 * fine-tune base + scaling B A it stands for (built independently by the test's PeftAdapter, in double), whatever
 * the solver or method; its delta is read exactly; the output adapter loads back to the merged delta.
 *
 * <p>Tolerances: the dense fine-tunes hold W_0 + delta rounded to float32, so their task vectors differ from the
 * adapters' exact ones by up to u |W_0| per element (u = 2^-24); a solver amplifies that by its conditioning,
 * bounded per filter in LowRankWudiTest. The relative tolerances below (1e-4 of ||tau_m|| for Adam, the element-wise
 * methods and the smooth filters, 1e-3 for the exact minimiser, which divides by eigenvalues down to
 * n 2^-23 lambda_max) sit 3x or more above what these layers show, and far below what a wrong orientation, scaling,
 * name or alpha gives (order 1).
 */
@dev.wudi.hub.NeedsPeftFixtures
class LoraAdaptersTest {

    static final double U = 0x1p-24;
    static final int LAYERS = 2;

    @TempDir
    static Path tmp;

    static final String[] GPT2 = {"gpt2-lora-cattn-r8/stathopoan__lightweight-ft",
        "gpt2-lora-cattn-r8/ybriz__generative-ai", "gpt2-lora-cattn-r8/anirudh-ak__peft-gpt2"};
    static final String GPT2_ZERO_B = "gpt2-lora-cattn-r4/sukhmandhawan__lightweight-ft";
    static final String[] DISTILBERT = {"distilbert-lora-qv-r8/rkarnwal__udacity-2class",
        "distilbert-lora-qv-r8/Tashu014__imdb-2class"};
    static final String DISTILBERT_OTHER_BASE = "distilbert-sst2-lora-qv-r4/eranmoss__udacity";

    static Model gpt2;
    static Path gpt2Base;
    static final List<Path> gpt2Adapters = new ArrayList<>();
    static final List<Path> gpt2Dense = new ArrayList<>();
    static Model distilbert;
    static Path distilbertBase;
    static final List<Path> distilbertAdapters = new ArrayList<>();
    static final List<Path> distilbertDense = new ArrayList<>();

    @BeforeAll
    static void checkpoints() throws Exception {
        gpt2 = HubModels.gpt2(LAYERS, 48, 16, 11);
        gpt2Base = HubFolder.write(tmp.resolve("gpt2"), gpt2, DType.F32);
        for (String a : GPT2) {
            Path cut = AdapterFolders.firstLayers(PeftFixtures.adapter(a), tmp.resolve("lora-" + a.replace('/', '_')),
                    LAYERS);
            gpt2Adapters.add(cut);
            gpt2Dense.add(HubFolder.write(tmp.resolve("dense-" + a.replace('/', '_')),
                    HubModels.gpt2SequenceClassifier(gpt2, PeftAdapter.read(cut)), DType.F32));
        }
        distilbert = HubModels.distilbert(LAYERS, 64, 40, 12);
        distilbertBase = HubFolder.write(tmp.resolve("distilbert"), distilbert, DType.F32);
        for (String a : DISTILBERT) {
            Path cut = AdapterFolders.firstLayers(PeftFixtures.adapter(a), tmp.resolve("lora-" + a.replace('/', '_')),
                    LAYERS);
            distilbertAdapters.add(cut);
            distilbertDense.add(HubFolder.write(tmp.resolve("dense-" + a.replace('/', '_')),
                    HubModels.distilbertSequenceClassifier(distilbert, PeftAdapter.read(cut)), DType.F32));
        }
    }

    // ------------------------------------------------------------------------------------------------ inputs

    @Test
    void gpt2AdaptersMergeAsTheirDenseFineTunesWithEverySolver() throws Exception {
        String[][] runs = {{"--solver", "spectral"}, {"--solver", "flow"}, {"--solver", "exact"},
            {"--iters", "20"}, {"--method", "task-arithmetic"}, {"--method", "ties"}};
        for (String[] run : runs) {
            String tag = "gpt2" + String.join("", run);
            Path a = merge(gpt2Base, gpt2Adapters, tmp.resolve(tag + "-a"), run);
            Path d = merge(gpt2Base, gpt2Dense, tmp.resolve(tag + "-d"), run);
            double tol = run[1].equals("exact") ? 1e-3 : 1e-4;
            assertSameMerge(gpt2, a, d, tol, tag);
            assertEquals(Wudi.tensors(d.resolve("heads/model-2.safetensors")).keySet(),
                    Wudi.tensors(a.resolve("heads/model-2.safetensors")).keySet(), "heads saved alike");
        }
    }

    @Test
    void spectralSolversUseTheFactorsAndAdamTheDenseState() throws Exception {
        Path report = tmp.resolve("factor-report.json");
        merge(gpt2Base, gpt2Adapters, tmp.resolve("factor"), "--solver", "spectral", "--report", report.toString());
        JsonNode rec = Wudi.record(Wudi.json(report), "h.0.attn.c_attn.weight");
        assertEquals(24, rec.path("solver").path("lora_rank").asInt(), "3 adapters of rank 8: an [R, R] problem, R 24");
        JsonNode untouched = Wudi.record(Wudi.json(report), "h.0.mlp.c_fc.weight");
        assertEquals("base", untouched.path("method").asText(), "no adapter adapts c_fc: the base's, nothing solved");
        assertEquals(3, untouched.path("models_left_out").size(), untouched.toString());
        assertTrue(untouched.path("models_left_out").get(0).asText().startsWith("model 1: a LoRA adapter that does not"
                + " adapt this module"), untouched.toString());
        assertEquals(0, untouched.path("zero_task_vectors").size(),
                "an adapter that leaves a weight alone is left out, not reported as a zero task vector");
        Path adam = tmp.resolve("adam-report.json");
        merge(gpt2Base, gpt2Adapters, tmp.resolve("adam"), "--iters", "5", "--report", adam.toString());
        assertTrue(Wudi.record(Wudi.json(adam), "h.0.attn.c_attn.weight").path("solver").path("lora_rank")
                .isMissingNode(), "Adam runs on the dense [out, in] state");
    }

    @Test
    void distilbertAdaptersWithSavedModulesMergeAsTheirDenseFineTunes() throws Exception {
        for (String[] run : new String[][] {{"--solver", "spectral", "--heads", "from:1"}, {"--iters", "10"}}) {
            String tag = "distilbert" + String.join("", run).replace(':', '_');
            Path a = merge(distilbertBase, distilbertAdapters, tmp.resolve(tag + "-a"), run);
            Path d = merge(distilbertBase, distilbertDense, tmp.resolve(tag + "-d"), run);
            assertSameMerge(distilbert, a, d, 1e-4, tag);
        }
        Map<String, Tensor> out = Wudi.tensors(tmp.resolve("distilbert--solverspectral--headsfrom_1-a"));
        Tensor saved = PeftAdapter.read(distilbertAdapters.get(0)).fullTensors().get("pre_classifier.weight");
        assertArrayEquals(saved.data(), out.get("pre_classifier.weight").data(),
                "--heads from:1 takes adapter 1's modules_to_save pre_classifier as it is");
    }

    @Test
    void adaptersAndFullFineTunesMix() throws Exception {
        List<Path> mixed = List.of(gpt2Adapters.get(0), gpt2Dense.get(1), gpt2Adapters.get(2));
        Path a = merge(gpt2Base, mixed, tmp.resolve("mixed-a"), "--solver", "spectral");
        Path d = merge(gpt2Base, gpt2Dense, tmp.resolve("mixed-d"), "--solver", "spectral");
        assertSameMerge(gpt2, a, d, 1e-4, "mixed");
    }

    @Test
    void aLoraOnTopOfAFineTuneIsThatFineTunePlusItsDelta() throws Exception {
        PeftAdapter first = PeftAdapter.read(gpt2Adapters.get(0));
        PeftAdapter second = PeftAdapter.read(gpt2Adapters.get(1));
        Model stacked = HubModels.withAdapter(HubModels.gpt2SequenceClassifier(gpt2, first), second);
        Path stackedDir = HubFolder.write(tmp.resolve("stacked"), stacked, DType.F32);
        Path onTop = Path.of(gpt2Dense.get(0) + "+" + gpt2Adapters.get(1));   // mergekit's MODEL+LORA
        Wudi.Result r = Wudi.ok(args(gpt2Base, List.of(onTop, gpt2Dense.get(2)), tmp.resolve("ontop-a"), "--solver",
                "spectral"));
        assertTrue(r.err().contains("model 1: the fine-tune " + gpt2Dense.get(0) + " with the LoRA adapter "
                + gpt2Adapters.get(1) + " on top"), r.err());
        Path d = merge(gpt2Base, List.of(stackedDir, gpt2Dense.get(2)), tmp.resolve("ontop-d"), "--solver", "spectral");
        assertSameMerge(gpt2, tmp.resolve("ontop-a"), d, 1e-4, "MODEL+LORA");
    }

    @Test
    void perModuleAlphaAndRsLoraScaleTheDelta() throws Exception {
        Path src = gpt2Adapters.get(0);
        Path changed = AdapterFolders.filtered(src, tmp.resolve("patterns"), n -> true);
        ObjectNode cfg = (ObjectNode) new ObjectMapper().readTree(changed.resolve(PeftAdapter.CONFIG).toFile());
        cfg.putObject("alpha_pattern").put("h.1.attn.c_attn", 64);
        cfg.put("use_rslora", true);
        Files.writeString(changed.resolve(PeftAdapter.CONFIG), cfg.toString());
        PeftAdapter oracle = PeftAdapter.read(changed);
        assertEquals(64 / Math.sqrt(8), oracle.scaling("transformer.h.1.attn.c_attn"), 1e-12);
        Path dense = HubFolder.write(tmp.resolve("patterns-dense"), HubModels.gpt2SequenceClassifier(gpt2, oracle),
                DType.F32);
        Path a = merge(gpt2Base, List.of(changed, gpt2Adapters.get(1)), tmp.resolve("patterns-a"), "--solver", "flow");
        Path d = merge(gpt2Base, List.of(dense, gpt2Dense.get(1)), tmp.resolve("patterns-d"), "--solver", "flow");
        assertSameMerge(gpt2, a, d, 1e-4, "alpha_pattern + rsLoRA");
        Path plain = merge(gpt2Base, List.of(src, gpt2Adapters.get(1)), tmp.resolve("patterns-plain"), "--solver", "flow");
        assertNotEquals(0, maxAbsDiff(Wudi.tensors(plain), Wudi.tensors(a), "h.1.attn.c_attn.weight"),
                "the pattern changes layer 1's scaling");
    }

    @Test
    void fanInFanOutDecidesWhereNothingElseDoes() throws Exception {
        // a single-file base without config.json whose [in, out] weight no name rule recognises
        java.util.Random r = new java.util.Random(5);
        Tensor w = random(r, 48, 96);
        Path base = tmp.resolve("fifo-base.safetensors");
        HubFolder.writeSafetensors(base, Map.of("blocks.0.proj.weight", w), DType.F32, Map.of());
        List<Path> adapters = new ArrayList<>();
        List<Path> dense = new ArrayList<>();
        for (int k = 1; k <= 2; k++) {
            Tensor a = random(r, 2, 48);
            Tensor b = random(r, 96, 2);
            Path dir = Files.createDirectories(tmp.resolve("fifo-lora" + k));
            Files.writeString(dir.resolve(PeftAdapter.CONFIG), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 2,"
                    + " \"fan_in_fan_out\": true}");
            HubFolder.writeSafetensors(dir.resolve(PeftAdapter.WEIGHTS), Map.of(
                    "base_model.model.blocks.0.proj.lora_A.weight", a, "base_model.model.blocks.0.proj.lora_B.weight", b),
                    DType.F32, Map.of());
            adapters.add(dir);
            Tensor delta = PeftAdapter.read(dir).denseDelta("blocks.0.proj");
            assertArrayEquals(new long[] {48, 96}, delta.shape(), "fan_in_fan_out: (B A)^T");
            Path d = tmp.resolve("fifo-dense" + k + ".safetensors");
            HubFolder.writeSafetensors(d, Map.of("blocks.0.proj.weight", w.plus(delta)), DType.F32, Map.of());
            dense.add(d);
        }
        Wudi.Result plan = Wudi.ok("plan", "--base", base.toString(), "--model", adapters.get(0).toString(), "--model",
                adapters.get(1).toString(), "--solver", "spectral");
        assertTrue(plan.out().contains("in-out"), plan.out());
        Path a = merge(base, adapters, tmp.resolve("fifo-a.safetensors"), "--solver", "spectral");
        Path d = merge(base, dense, tmp.resolve("fifo-d.safetensors"), "--solver", "spectral", "--layout",
                "proj=in-out");
        float[] x = Wudi.tensors(a).get("blocks.0.proj.weight").data();
        float[] y = Wudi.tensors(d).get("blocks.0.proj.weight").data();
        double tau = diffNorm(y, w.data());
        assertTrue(diffNorm(x, y) <= 1e-4 * tau + 4 * U * norm(w.data()), "differs by " + diffNorm(x, y));
    }

    @Test
    void embeddingAndConvLorasAreTheirDeltas() throws Exception {
        java.util.Random r = new java.util.Random(9);
        Tensor emb = random(r, 40, 16);                              // nn.Embedding [vocab, dim]
        Tensor conv = new Tensor(random(r, 8, 36).data(), new long[] {8, 4, 3, 3});   // Conv2d [out, in, k, k]
        Path base = tmp.resolve("embconv-base.safetensors");
        HubFolder.writeSafetensors(base, Map.of("embed.weight", emb, "conv.weight", conv), DType.F32, Map.of());
        Path dir = Files.createDirectories(tmp.resolve("embconv-lora"));
        Files.writeString(dir.resolve(PeftAdapter.CONFIG), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4}");
        Tensor ea = random(r, 2, 40);                                // lora_embedding_A [r, vocab]
        Tensor eb = random(r, 16, 2);                                // lora_embedding_B [dim, r]
        Tensor ca = new Tensor(random(r, 2, 36).data(), new long[] {2, 4, 3, 3});
        Tensor cb = new Tensor(random(r, 8, 2).data(), new long[] {8, 2, 1, 1});
        HubFolder.writeSafetensors(dir.resolve(PeftAdapter.WEIGHTS), Map.of(
                "base_model.model.embed.lora_embedding_A", ea, "base_model.model.embed.lora_embedding_B", eb,
                "base_model.model.conv.lora_A.weight", ca, "base_model.model.conv.lora_B.weight", cb),
                DType.F32, Map.of());
        Path out = merge(base, List.of(dir), tmp.resolve("embconv.safetensors"), "--method", "task-arithmetic",
                "--scale", "1");
        Map<String, Tensor> got = Wudi.tensors(out);
        // the deltas PEFT's Embedding and Conv2d layers apply, computed here in double: scaling 4 / 2; values stay
        // below 1, where float32 rounds by less than 6e-8, so 1e-6 leaves room for the rank-2 sum and W_0 + delta
        for (int v = 0; v < 40; v++) {
            for (int d = 0; d < 16; d++) {
                double x = 0;
                for (int k = 0; k < 2; k++) {
                    x += eb.data()[d * 2 + k] * ea.data()[k * 40 + v];
                }
                assertEquals(emb.data()[v * 16 + d] + 2 * x, got.get("embed.weight").data()[v * 16 + d], 1e-6,
                        "embed [" + v + ", " + d + "]: (B A)^T");
            }
        }
        for (int o = 0; o < 8; o++) {
            for (int j = 0; j < 36; j++) {
                double x = 0;
                for (int k = 0; k < 2; k++) {
                    x += cb.data()[o * 2 + k] * ca.data()[k * 36 + j];
                }
                assertEquals(conv.data()[o * 36 + j] + 2 * x, got.get("conv.weight").data()[o * 36 + j], 1e-6,
                        "conv [" + o + ", " + j + "]: B A over the flattened kernel");
            }
        }
    }

    private static Tensor random(java.util.Random r, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (0.1 * r.nextGaussian());
        }
        return new Tensor(v, new long[] {rows, cols});
    }

    @Test
    void zeroBAdapterIsAZeroTaskVectorAndSaidSo() throws Exception {
        Path zero = AdapterFolders.firstLayers(PeftFixtures.adapter(GPT2_ZERO_B), tmp.resolve("zero-b"), LAYERS);
        List<Path> with = new ArrayList<>(gpt2Adapters);
        with.add(zero);
        Path report = tmp.resolve("zero-report.json");
        Wudi.Result r = Wudi.ok(args(gpt2Base, with, tmp.resolve("zero-with"), "--solver", "spectral", "--report",
                report.toString()));
        assertTrue(r.err().contains("model " + zero + " equals the base"), r.err());
        assertEquals(List.of(4), ints(Wudi.record(Wudi.json(report), "h.0.attn.c_attn.weight").get("zero_task_vectors")));
        Path without = merge(gpt2Base, gpt2Adapters, tmp.resolve("zero-without"), "--solver", "spectral");
        assertSameMerge(gpt2, tmp.resolve("zero-with"), without, 1e-4, "a zero task vector has weight 0");
    }

    @Test
    void adapterOfAnotherBaseModelMergesWithANote() throws Exception {
        Path other = AdapterFolders.firstLayers(PeftFixtures.adapter(DISTILBERT_OTHER_BASE), tmp.resolve("other"),
                LAYERS);
        Wudi.Result r = Wudi.ok(args(distilbertBase, List.of(distilbertAdapters.get(0), other), tmp.resolve("other-out"),
                "--solver", "spectral"));
        assertTrue(r.err().contains("the adapters were trained on distilbert-base-uncased (model 1),"
                + " distilbert-base-uncased-finetuned-sst-2-english (model 2)"), r.err());
    }

    @Test
    void inspectSummarisesAnAdapter() throws Exception {
        Wudi.Result r = Wudi.ok("inspect", distilbertAdapters.get(0).toString());
        assertTrue(r.out().contains("PEFT LoRA adapter: LoRA r 8, alpha 32, 4 modules, 4 full tensors, trained on"
                + " distilbert-base-uncased"), r.out());
        JsonNode j = Wudi.json(Wudi.ok("inspect", "--json", gpt2Adapters.get(1).toString()).out());
        assertEquals(32.0 / 8, j.path("lora_adapter").path("modules").get(0).path("scaling").asDouble());
    }

    // ------------------------------------------------------------------------------------------------ output

    @Test
    void asAdapterIsExactForTheSpectralSolvers() throws Exception {
        Path full = merge(gpt2Base, gpt2Adapters, tmp.resolve("exact-full"), "--solver", "spectral");
        Path out = merge(gpt2Base, gpt2Adapters, tmp.resolve("exact-adapter"), "--solver", "spectral", "--as-adapter");
        JsonNode cfg = Wudi.json(out.resolve(PeftAdapter.CONFIG));
        assertEquals("LORA", cfg.get("peft_type").asText());
        assertEquals(24, cfg.get("r").asInt());
        assertEquals(24, cfg.get("lora_alpha").asInt(), "scaling 1");
        assertTrue(cfg.get("fan_in_fan_out").asBoolean());
        assertEquals("gpt2", cfg.get("base_model_name_or_path").asText());
        assertEquals(List.of("c_attn"), strings(cfg.get("target_modules")), "the inputs' names, which select exactly"
                + " the modules written");
        PeftAdapter back = PeftAdapter.read(out);
        Map<String, Tensor> merged = Wudi.tensors(full);
        for (int layer = 0; layer < LAYERS; layer++) {
            String w = "h." + layer + ".attn.c_attn.weight";
            float[] tauFull = merged.get(w).minus(gpt2.tensor(w)).data();
            float[] tauAdapter = back.denseDelta("transformer.h." + layer + ".attn.c_attn").data();
            // The full merge rounds W_0 + tau_m to float32 and the test subtracts W_0 again: u |W_0| per element;
            // the adapter's B A is the same x U^T in another summation order: R u |x||U| per element.
            double bound = 4 * U * (norm(gpt2.tensor(w).data()) + 24 * norm(tauFull));
            assertTrue(diffNorm(tauFull, tauAdapter) <= bound, w + ": adapter delta differs from the full merge's by "
                    + diffNorm(tauFull, tauAdapter) + ", bound " + bound);
        }
        assertTrue(Files.readString(out.resolve("README.md")).contains("exact"), "the card says the adapter is exact");
    }

    /**
     * The default merge of adapters written as an adapter: the coverage rule takes 0.75 x the models' average on every
     * adapted weight (3 adapters of rank 8 span 24 of 768 inputs), in factors, as the dense default merge writes it.
     */
    @Test
    void theDefaultMergeAsAnAdapterIsThreeQuartersOfTheAverage() throws Exception {
        Path full = merge(gpt2Base, gpt2Adapters, tmp.resolve("default-full"));
        Path out = merge(gpt2Base, gpt2Adapters, tmp.resolve("default-adapter"), "--as-adapter");
        PeftAdapter back = PeftAdapter.read(out);
        List<PeftAdapter> inputs = new ArrayList<>();
        for (Path a : gpt2Adapters) {
            inputs.add(PeftAdapter.read(a));
        }
        Map<String, Tensor> merged = Wudi.tensors(full);
        for (int layer = 0; layer < LAYERS; layer++) {
            String w = "h." + layer + ".attn.c_attn.weight";
            String module = "transformer.h." + layer + ".attn.c_attn";
            float[] tauFull = merged.get(w).minus(gpt2.tensor(w)).data();
            float[] tauAdapter = back.denseDelta(module).data();
            float[] want = new float[tauAdapter.length];
            for (PeftAdapter a : inputs) {
                float[] d = a.denseDelta(module).data();
                for (int j = 0; j < want.length; j++) {
                    want[j] += (float) (0.75 / inputs.size() * d[j]);
                }
            }
            // as in the spectral case: the dense merge rounds W_0 + tau to float32 (u |W_0|), the factors sum in
            // another order (R u |tau| per element, R = 24), and the reference's own sum of 3 rounds likewise
            double bound = 4 * U * (norm(gpt2.tensor(w).data()) + 24 * norm(tauFull));
            assertTrue(diffNorm(tauFull, tauAdapter) <= bound, w + ": adapter delta differs from the dense default"
                    + " merge's by " + diffNorm(tauFull, tauAdapter) + ", bound " + bound);
            assertTrue(diffNorm(want, tauAdapter) <= bound, w + ": not 0.75 x the mean of the adapters' deltas: "
                    + diffNorm(want, tauAdapter) + ", bound " + bound);
        }
    }

    @Test
    void asAdapterTruncatesAdamBySvdAndReportsTheError() throws Exception {
        Path full = merge(gpt2Base, gpt2Adapters, tmp.resolve("adam-full"), "--iters", "10");
        Path report = tmp.resolve("adam-adapter.json");
        Path out = merge(gpt2Base, gpt2Adapters, tmp.resolve("adam-adapter"), "--iters", "10", "--as-adapter",
                "--report", report.toString());
        PeftAdapter back = PeftAdapter.read(out);
        String w = "h.0.attn.c_attn.weight";
        float[] tau = Wudi.tensors(full).get(w).minus(gpt2.tensor(w)).data();
        float[] approx = back.denseDelta("transformer.h.0.attn.c_attn").data();
        assertEquals(24, back.rank("transformer.h.0.attn.c_attn"), "default: the sum of the adapters' ranks");
        double reported = Wudi.record(Wudi.json(report), w).path("solver").path("adapter_relative_error").asDouble();
        double actual = diffNorm(tau, approx) / norm(tau);
        assertTrue(reported > 0 && reported < 1, "Adam leaves the span of the factors: " + reported);
        assertEquals(actual, reported, 1e-3 * reported + 64 * U, "the reported error is the adapter's");
        Path fullRank = merge(gpt2Base, gpt2Adapters, tmp.resolve("adam-rank768"), "--iters", "10", "--as-adapter",
                "--adapter-rank", "768");
        float[] exact = PeftAdapter.read(fullRank).denseDelta("transformer.h.0.attn.c_attn").data();
        assertTrue(diffNorm(tau, exact) / norm(tau) < 1e-5, "at full rank the SVD gives the delta back");
    }

    @Test
    void asAdapterWithoutBaseGivesTheSameFactors() throws Exception {
        Path with = merge(gpt2Base, gpt2Adapters, tmp.resolve("nobase-with"), "--solver", "spectral", "--as-adapter",
                "--heads", "drop");
        List<String> a = new ArrayList<>(List.of("merge", "--out", tmp.resolve("nobase").toString(), "--solver",
                "spectral", "--as-adapter", "--heads", "drop"));
        gpt2Adapters.forEach(p -> {
            a.add("--model");
            a.add(p.toString());
        });
        Wudi.ok(a.toArray(new String[0]));
        Map<String, Tensor> x = Wudi.tensors(with.resolve(PeftAdapter.WEIGHTS));
        Map<String, Tensor> y = Wudi.tensors(tmp.resolve("nobase").resolve(PeftAdapter.WEIGHTS));
        assertEquals(x.keySet(), y.keySet());
        x.forEach((n, t) -> assertArrayEquals(t.data(), y.get(n).data(), n + ": the factors need no W_0"));
        assertEquals(Wudi.json(with.resolve(PeftAdapter.CONFIG)), Wudi.json(tmp.resolve("nobase").resolve(
                PeftAdapter.CONFIG)));
    }

    @Test
    void asAdapterKeepsHeadsAsModulesToSave() throws Exception {
        Path out = merge(distilbertBase, distilbertAdapters, tmp.resolve("heads-adapter"), "--solver", "spectral",
                "--as-adapter", "--heads", "from:2");
        JsonNode cfg = Wudi.json(out.resolve(PeftAdapter.CONFIG));
        assertEquals(java.util.Set.of("pre_classifier", "classifier"), new java.util.HashSet<>(strings(
                cfg.get("modules_to_save"))));
        PeftAdapter back = PeftAdapter.read(out);
        assertArrayEquals(PeftAdapter.read(distilbertAdapters.get(1)).fullTensors().get("classifier.weight").data(),
                back.fullTensors().get("classifier.weight").data());
        assertEquals(2 * LAYERS, back.modules().size(), "q_lin and v_lin of each layer");
    }

    // ------------------------------------------------------------------------------------------------ refusals

    @Test
    void refusalsNameTheFileAndTheSetting() throws Exception {
        Path src = gpt2Adapters.get(0);
        Path bin = Files.createDirectories(tmp.resolve("bin-adapter"));
        Files.copy(src.resolve(PeftAdapter.CONFIG), bin.resolve(PeftAdapter.CONFIG));
        Files.write(bin.resolve("adapter_model.bin"), new byte[] {1, 2, 3});
        assertRefused(args(gpt2Base, List.of(bin), tmp.resolve("r1")), 1, "adapter_model.bin",
                "save_file(torch.load(");
        assertRefused(args(gpt2Base, List.of(withConfig(src, "dora", "use_dora", true)), tmp.resolve("r2")), 1,
                "use_dora: true", "DoRA");
        assertRefused(args(gpt2Base, List.of(withConfig(src, "ia3", "peft_type", "IA3")), tmp.resolve("r3")), 1,
                "peft_type IA3 is not supported");
        assertRefused(args(gpt2Base, List.of(withConfig(src, "rank", "r", 4)), tmp.resolve("r4")), 1,
                "do not have the rank 4");
        assertRefused(args(distilbertBase, List.of(src), tmp.resolve("r5")), 1,
                "changes module transformer.h.0.attn.c_attn, but the base " + distilbertBase + " has no weight for it");
        assertRefused(args(gpt2Base, List.of(src, gpt2Dense.get(1)), tmp.resolve("r6"), "--as-adapter"), 2,
                "--as-adapter needs every --model to be a PEFT LoRA adapter folder");
        assertRefused(args(gpt2Base, List.of(src), tmp.resolve("r7"), "--adapter-rank", "4"), 2,
                "--adapter-rank applies to --as-adapter only");
        assertRefused(new String[] {"merge", "--model", src.toString(), "--out", tmp.resolve("r8").toString()}, 2,
                "'--base=PATH' (optional only with --as-adapter)");
        String b1 = "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight";
        Path nan = AdapterFolders.withValue(src, tmp.resolve("nan-adapter"), b1, 17, Float.NaN);
        assertRefused(args(gpt2Base, List.of(nan), tmp.resolve("r10")), 1, "tensor " + b1 + " in "
                + nan.resolve(PeftAdapter.WEIGHTS) + " holds NaN at element 17", "--allow-nonfinite");
        assertRefused(args(gpt2Base, List.of(src), tmp.resolve("r9"), "--as-adapter", "--resume"), 2,
                "--resume does not apply to --as-adapter");
        Path body = AdapterFolders.withExtra(src, tmp.resolve("body-adapter"), "base_model.model.transformer.h.0.ln_1.weight",
                Tensor.zeros(768));
        assertRefused(new String[] {"merge", "--model", body.toString(), "--out", tmp.resolve("r11").toString(),
            "--as-adapter"}, 2, "saves transformer.h.0.ln_1.weight in full (modules_to_save): its task vector needs the"
                + " base's value; pass --base");
        for (String r : List.of("r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11")) {
            assertFalse(Files.exists(tmp.resolve(r)), r + ": nothing written");
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static Path withConfig(Path adapter, String name, String key, Object value) throws Exception {
        Path dst = AdapterFolders.filtered(adapter, tmp.resolve("cfg-" + name), n -> true);
        ObjectNode cfg = (ObjectNode) new ObjectMapper().readTree(dst.resolve(PeftAdapter.CONFIG).toFile());
        cfg.set(key, new ObjectMapper().valueToTree(value));
        Files.writeString(dst.resolve(PeftAdapter.CONFIG), cfg.toString());
        return dst;
    }

    private static void assertRefused(String[] args, int exit, String... parts) {
        Wudi.Result r = Wudi.run(args);
        assertEquals(exit, r.exit(), r.toString());
        for (String p : parts) {
            assertTrue(r.err().contains(p), "expected '" + p + "' in\n" + r.err());
        }
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    static String[] args(Path base, List<Path> models, Path out, String... more) {
        return Wudi.mergeArgs(base, models, out, more);
    }

    static Path merge(Path base, List<Path> models, Path out, String... more) {
        Wudi.ok(args(base, models, out, more));
        return out;
    }

    /** Every tensor of the two outputs within rel * ||tau_m||_F (+ a float32 rounding of W_0) of each other. */
    private static void assertSameMerge(Model base, Path a, Path d, double rel, String what) throws Exception {
        Map<String, Tensor> x = Wudi.tensors(a.resolve("model.safetensors"));
        Map<String, Tensor> y = Wudi.tensors(d.resolve("model.safetensors"));
        assertEquals(y.keySet(), x.keySet(), what + ": same tensors");
        for (String n : y.keySet()) {
            float[] p = x.get(n).data();
            float[] q = y.get(n).data();
            float[] w0 = base.tensors().containsKey(n) ? base.tensor(n).data() : new float[q.length];  // a head
            double tauM = diffNorm(q, w0);
            double bound = rel * tauM + 4 * U * norm(w0);
            assertTrue(diffNorm(p, q) <= bound, what + ": " + n + " differs by " + diffNorm(p, q) + " (||tau_m|| "
                    + tauM + "), bound " + bound);
        }
    }

    private static double maxAbsDiff(Map<String, Tensor> a, Map<String, Tensor> b, String name) {
        float[] p = a.get(name).data();
        float[] q = b.get(name).data();
        double m = 0;
        for (int i = 0; i < p.length; i++) {
            m = Math.max(m, Math.abs(p[i] - q[i]));
        }
        return m;
    }

    private static double diffNorm(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.pow((double) a[i] - b[i], 2);
        }
        return Math.sqrt(s);
    }

    private static double norm(float[] a) {
        double s = 0;
        for (float v : a) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }

    private static List<String> strings(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.forEach(x -> out.add(x.asText()));
        return out;
    }

    private static List<Integer> ints(JsonNode n) {
        List<Integer> out = new ArrayList<>();
        n.forEach(x -> out.add(x.asInt()));
        return out;
    }
}
