package dev.wudi.realmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.format.DType;
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
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What real fine-tunes carry besides the body: task heads the base lacks or has in another shape, vocabularies
 * grown by added tokens, output embeddings tied to the input one, layers a LoRA fine-tune never touched. Each
 * has a documented default that merges the rest and loses nothing (README, "Real models").
 */
@dev.wudi.hub.NeedsPeftFixtures
class HeadsAndVocabularyTest {

    @TempDir
    static Path tmp;

    static Model gpt2;
    static Path gpt2Base;
    static final List<Path> gpt2Models = new ArrayList<>();
    static final List<Model> gpt2FineTunes = new ArrayList<>();

    @BeforeAll
    static void gpt2() throws Exception {
        gpt2 = HubModels.gpt2(1, 32, 8, 2);
        gpt2Base = HubFolder.write(tmp.resolve("gpt2"), gpt2, DType.F32);
        String[] adapters = {"gpt2-lora-cattn-r8/stathopoan__lightweight-ft", "gpt2-lora-cattn-r8/ybriz__generative-ai",
            "gpt2-lora-cattn-r4/sukhmandhawan__lightweight-ft"};
        for (String a : adapters) {
            Model m = HubModels.gpt2SequenceClassifier(gpt2, PeftAdapter.read(PeftFixtures.adapter(a)));
            gpt2FineTunes.add(m);
            gpt2Models.add(HubFolder.write(tmp.resolve(a.replace('/', '_')), m, DType.F32));
        }
    }

    private static String[] merge(Path base, List<Path> models, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("merge", "--base", base.toString()));
        models.forEach(m -> a.addAll(List.of("--model", m.toString())));
        a.addAll(List.of("--out", out.toString()));
        a.addAll(List.of(more));
        if (!a.contains("--iters")) {
            a.addAll(List.of("--iters", "3"));
        }
        return a.toArray(new String[0]);
    }

    @Test
    void headsTheBaseLacksAreSavedPerModelByDefault() throws Exception {
        Path out = tmp.resolve("heads-saved");
        Path report = tmp.resolve("heads-saved.json");
        Wudi.Result r = Wudi.ok(merge(gpt2Base, gpt2Models, out, "--report", report.toString()));
        assertEquals(Wudi.shapes(gpt2Base), Wudi.shapes(out), "the output has the base's names and shapes");
        int[] classes = {6, 2, 10};
        for (int k = 1; k <= 3; k++) {
            Path head = out.resolve("heads/model-" + k + ".safetensors");
            Tensor score = Wudi.tensors(head).get("score.weight");
            assertArrayEquals(new long[] {classes[k - 1], 768}, score.shape());
            assertArrayEquals(gpt2FineTunes.get(k - 1).tensor("score.weight").data(), score.data(), "model " + k);
            assertTrue(r.err().contains("task head saved to heads/model-" + k + ".safetensors"), r.err());
        }
        JsonNode rep = Wudi.json(report);
        assertTrue(rep.get("models_tensors_not_in_output").toString().contains("score.weight [10, 768]"));
        assertTrue(r.err().contains("28 names matched without 'transformer.'") || r.err().contains("names matched"),
                r.err());
        // the r4 adapter's lora_B are all zero: its task vector is zero everywhere, and said so
        assertTrue(r.err().contains("model 3 in"), r.err());
        assertEquals(List.of(3), ints(Wudi.record(rep, "h.0.attn.c_attn.weight").get("zero_task_vectors")));
    }

    @Test
    void headsDropAndHeadsFromAModel() throws Exception {
        Path dropped = tmp.resolve("heads-dropped");
        Wudi.Result d = Wudi.ok(merge(gpt2Base, gpt2Models, dropped, "--heads", "drop"));
        assertFalse(Files.exists(dropped.resolve("heads")));
        assertTrue(d.err().contains("score.weight (model 1, 2, 3)") && d.err().contains("--heads save"), d.err());

        Path from = tmp.resolve("heads-from-2");
        Wudi.ok(merge(gpt2Base, gpt2Models, from, "--heads", "from:2"));
        Map<String, Tensor> m = Wudi.tensors(from);
        assertArrayEquals(gpt2FineTunes.get(1).tensor("score.weight").data(), m.get("score.weight").data());
        assertEquals(gpt2FineTunes.get(1).tensors().keySet(), m.keySet(), "model 2's own names: transformer.h.0..."
                + " beside score.weight, as GPT2ForSequenceClassification loads them");
        JsonNode config = Wudi.json(from.resolve("config.json"));
        assertEquals("GPT2ForSequenceClassification", config.get("architectures").get(0).asText());
        assertEquals(2, config.get("id2label").size());
        assertFalse(Files.exists(from.resolve("heads")));

        Wudi.Result bad = Wudi.run(merge(gpt2Base, gpt2Models, tmp.resolve("bad"), "--heads", "from:4"));
        assertEquals(2, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("--heads from:4 names model 4, but only 3"), bad.err());
    }

    /** DistilBERT classifiers of 2, 6 and 2 classes against a base with a 2-class head (real adapters). */
    @Test
    void headsOfAnotherShapeLeaveThatModelOutOfTheHead() throws Exception {
        Model base = HubModels.withDistilbertHead(HubModels.distilbert(1, 64, 40, 6), 2, 7);
        Path b = HubFolder.write(tmp.resolve("distilbert"), base, DType.F32);
        String[] adapters = {"distilbert-lora-qv-r8/Tashu014__imdb-2class",
            "distilbert-lora-qv-r8/dayanidhi04__emotion-6class", "distilbert-lora-qv-r8/rkarnwal__udacity-2class"};
        List<Path> ms = new ArrayList<>();
        List<Model> fts = new ArrayList<>();
        for (String a : adapters) {
            Model m = HubModels.distilbertSequenceClassifier(base, PeftAdapter.read(PeftFixtures.adapter(a)));
            fts.add(m);
            ms.add(HubFolder.write(tmp.resolve(a.replace('/', '_')), m, DType.F32));
        }
        Path out = tmp.resolve("distilbert-avg");
        Path report = tmp.resolve("distilbert.json");
        Wudi.Result r = Wudi.ok(merge(b, ms, out, "--rest", "average", "--report", report.toString()));
        Map<String, Tensor> m = Wudi.tensors(out);
        float[] want = new float[2 * 768];
        for (int j = 0; j < want.length; j++) {
            float s = fts.get(0).tensor("classifier.weight").data()[j];
            s += fts.get(2).tensor("classifier.weight").data()[j];
            want[j] = s / 2;
        }
        assertArrayEquals(want, m.get("classifier.weight").data(), "the mean of the two 2-class heads");
        assertTrue(r.err().contains("task head classifier.weight has another shape than the base's in model 2"),
                r.err());
        JsonNode rec = Wudi.record(Wudi.json(report), "classifier.weight");
        assertEquals("head", rec.get("role").asText());
        assertTrue(rec.get("models_left_out").get(0).asText().startsWith("model 2: shape [6, 768]"), rec.toString());
        assertEquals("head", Wudi.record(Wudi.json(report), "pre_classifier.weight").get("role").asText());
        // every model's own head is kept beside the merged body
        assertArrayEquals(new long[] {6, 768}, Wudi.tensors(out.resolve("heads/model-2.safetensors"))
                .get("classifier.weight").shape());
        assertEquals("linear", Wudi.record(Wudi.json(report),
                "distilbert.transformer.layer.0.attention.q_lin.weight").get("role").asText());
    }

    @Test
    void grownVocabularyKeepsEveryAddedRow() throws Exception {
        Model base = HubModels.llama(1, 32, 48, 4, 2, 50, false, 8);
        Path b = HubFolder.write(tmp.resolve("llama"), base, DType.F32);
        Files.writeString(b.resolve("tokenizer.json"), "{\"base\": true}");
        Model a = HubModels.fineTune(base, "proj", 2, 0.01, 31);
        Model g1 = HubModels.withExtraVocabRows(HubModels.fineTune(base, "proj", 2, 0.01, 32), 3, 41);
        Model g2 = HubModels.withExtraVocabRows(HubModels.fineTune(base, "proj", 2, 0.01, 33), 3, 42);
        List<Path> ms = List.of(HubFolder.write(tmp.resolve("v-a"), a, DType.F32),
                HubFolder.write(tmp.resolve("v-g1"), g1, DType.F32), HubFolder.write(tmp.resolve("v-g2"), g2, DType.F32));
        Files.writeString(ms.get(1).resolve("tokenizer.json"), "{\"added\": 3}");
        Path out = tmp.resolve("vocab-extend");
        Wudi.Result r = Wudi.ok(merge(b, ms, out));
        Map<String, Tensor> m = Wudi.tensors(out);
        for (String n : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            Tensor t = m.get(n);
            assertArrayEquals(new long[] {53, 32}, t.shape(), n);
            assertArrayEquals(base.tensor(n).data(), Arrays.copyOf(t.data(), 50 * 32), n + ": base rows (--rest base)");
            for (int j = 50 * 32; j < 53 * 32; j++) {
                float mean = (g1.tensor(n).data()[j] + g2.tensor(n).data()[j]) / 2;
                assertEquals(mean, t.data()[j], 0f, n + " added element " + j);
            }
        }
        assertEquals(53, Wudi.json(out.resolve("config.json")).get("vocab_size").asInt());
        assertFalse(Files.exists(out.resolve("heads")), "an untied lm_head is the model's, not a task head to save");
        assertEquals("{\"added\": 3}", Files.readString(out.resolve("tokenizer.json")), "the tokenizer that knows them");
        assertTrue(r.err().contains("the output has 53 rows"), r.err());

        Path kept = tmp.resolve("vocab-base");
        Wudi.ok(merge(b, ms, kept, "--vocab", "base"));
        assertEquals(Wudi.shapes(b), Wudi.shapes(kept));
        assertEquals(50, Wudi.json(kept.resolve("config.json")).get("vocab_size").asInt());
        assertEquals("{\"base\": true}", Files.readString(kept.resolve("tokenizer.json")));
    }

    @Test
    void anOutputNeverGainsAnLmHeadTheBaseTies() throws Exception {
        Model base = HubModels.llama(1, 32, 48, 4, 2, 50, true, 9);
        assertFalse(base.tensors().containsKey("lm_head.weight"));
        Path b = HubFolder.write(tmp.resolve("tied"), base, DType.F32);
        List<Path> ms = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Model m = HubModels.fineTune(base, "proj", 2, 0.01, 50 + i);
            m.tensors().put("lm_head.weight", m.tensor("model.embed_tokens.weight"));   // saved untied by a trainer
            ms.add(HubFolder.write(tmp.resolve("tied-ft" + i), m, DType.F32));
        }
        for (String heads : new String[] {"save", "from:1"}) {
            Path out = tmp.resolve("tied-out-" + heads.replace(':', '-'));
            Wudi.Result r = Wudi.ok(merge(b, ms, out, "--heads", heads));
            assertEquals(Wudi.shapes(b), Wudi.shapes(out), "--heads " + heads);
            assertTrue(r.err().contains("left out: the base ties it to its input embedding"), r.err());
            assertFalse(Files.exists(out.resolve("heads")), "a tied lm_head is not a task head to save");
        }
    }

    /** A model whose fine-tune never touched layer 1 has zero task vectors there: left out of those losses. */
    @Test
    void zeroLayersLeaveTheModelOutOfThatLoss() throws Exception {
        Model base = HubModels.llama(2, 32, 48, 4, 2, 40, true, 10);
        Model a = HubModels.fineTune(base, "proj", 2, 0.01, 61);
        Model z = HubModels.fineTune(base, "layers\\.0\\..*proj", 2, 0.01, 62);
        Model c = HubModels.fineTune(base, "proj", 2, 0.01, 63);
        Path b = HubFolder.write(tmp.resolve("z-base"), base, DType.F32);
        Path pa = HubFolder.write(tmp.resolve("z-a"), a, DType.F32);
        Path pz = HubFolder.write(tmp.resolve("z-z"), z, DType.F32);
        Path pc = HubFolder.write(tmp.resolve("z-c"), c, DType.F32);
        Path report = tmp.resolve("z.json");
        Path three = tmp.resolve("z-three");
        Wudi.Result r = Wudi.ok(merge(b, List.of(pa, pz, pc), three, "--iters", "30", "--lr", "1e-4",
                "--report", report.toString()));
        Path two = tmp.resolve("z-two");
        Wudi.ok(merge(b, List.of(pa, pc), two, "--iters", "30", "--lr", "1e-4"));
        Map<String, Tensor> m3 = Wudi.tensors(three);
        Map<String, Tensor> m2 = Wudi.tensors(two);
        JsonNode rep = Wudi.json(report);
        int zeroTensors = 0;
        for (String n : m3.keySet()) {
            for (float v : m3.get(n).data()) {
                assertTrue(Float.isFinite(v), n);
            }
            if (n.startsWith("model.layers.1.") && n.endsWith("proj.weight")) {
                zeroTensors++;
                assertEquals(List.of(2), ints(Wudi.record(rep, n).get("zero_task_vectors")), n);
                assertArrayEquals(m2.get(n).data(), m3.get(n).data(), n + ": as if model 2 were not there");
            }
        }
        assertEquals(7, zeroTensors);
        assertTrue(r.err().contains("model 2 in 7 tensors"), r.err());
        assertEquals(7, rep.get("totals").get("tensors_with_zero_task_vectors").asInt());
    }

    static List<Integer> ints(JsonNode a) {
        List<Integer> out = new ArrayList<>();
        if (a != null) {
            a.forEach(x -> out.add(x.asInt()));
        }
        return out;
    }
}
