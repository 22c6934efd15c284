package dev.wudi.realmodels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.format.DType;
import dev.wudi.hub.HfLoader;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.SyntheticAdapter;
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
 * Would transformers load what wudi writes, as the class its config.json names, and PEFT the adapters? Every output
 * kind (GPT-2, Llama and BERT-style folders, plain, with their heads saved beside them, with one model's head in
 * them; sharded; LoRA adapters) is read by tests/loader/hf_load.py, which resolves names as transformers 4.x and 5.x
 * and PEFT do and names every missing, unexpected or misshapen key.
 */
class LoadingChecksTest {

    @TempDir
    static Path tmp;

    /** Per architecture: the base folder, two plain fine-tunes, two fine-tunes saved with classification heads. */
    record Family(Path base, List<Path> plain, List<Path> classifiers) {
    }

    static Model gpt2;
    static Family gpt2s;
    static Family llamas;
    static Family berts;
    static Family distilberts;

    @BeforeAll
    static void models() throws Exception {
        gpt2 = HubModels.gpt2(2, 40, 16, 64, 4, 1);
        gpt2s = family("gpt2", gpt2, "attn|mlp");
        llamas = family("llama", HubModels.llama(2, 32, 48, 4, 2, 50, false, 2), "proj");
        berts = family("bert", HubModels.bert(1, 32, 64, 40, 3), "dense|query|value");
        distilberts = family("distilbert", HubModels.distilbert(1, 64, 40, 4), "lin");
    }

    private static Family family(String name, Model base, String regex) throws Exception {
        Path b = HubFolder.write(tmp.resolve(name), base, DType.F32);
        List<Path> plain = new ArrayList<>();
        List<Path> heads = new ArrayList<>();
        int[] classes = {3, 5};
        for (int i = 0; i < 2; i++) {
            Model ft = HubModels.fineTune(base, regex, 2, 0.01, 10 + i);
            plain.add(HubFolder.write(tmp.resolve(name + "-ft" + i), ft, DType.F32));
            heads.add(HubFolder.write(tmp.resolve(name + "-cls" + i), HubModels.sequenceClassifier(ft, classes[i],
                    20 + i), DType.F32));
        }
        return new Family(b, plain, heads);
    }

    private static Path merge(Path base, List<Path> models, String out, String... more) {
        List<String> a = new ArrayList<>(List.of(Wudi.mergeArgs(base, models, tmp.resolve(out))));
        a.addAll(List.of(more));
        if (!a.contains("--iters") && !a.contains("--solver")) {
            a.addAll(List.of("--iters", "3"));
        }
        Wudi.ok(a.toArray(new String[0]));
        return tmp.resolve(out);
    }

    /** The merged body loads as the base's class; each saved head loads with it, with its labels, as its README says. */
    private static void bodyAndSavedHeadsLoad(Family f, String name) throws Exception {
        Path out = merge(f.base(), f.classifiers(), name + "-saved");
        HfLoader.loads(out);
        String readme = Files.readString(out.resolve("heads/README.md"));
        for (int k = 1; k <= 2; k++) {
            Path head = out.resolve("heads/model-" + k + ".safetensors");
            Path config = out.resolve("heads/model-" + k + ".config.json");
            String said = HfLoader.loads(out, "--head", head.toString(), "--config", config.toString());
            JsonNode cfg = Wudi.json(config);
            JsonNode own = Wudi.json(f.classifiers().get(k - 1).resolve("config.json"));
            assertEquals(own.get("architectures"), cfg.get("architectures"), said);
            assertEquals(own.get("id2label"), cfg.get("id2label"), "model " + k + "'s labels");
            assertEquals(own.get("label2id"), cfg.get("label2id"));
            assertTrue(readme.contains("model-" + k + ".safetensors") && readme.contains(
                    own.get("architectures").get(0).asText()), readme);
        }
        assertTrue(readme.contains("load_state_dict(load_file("), "the usage lines: " + readme);
        merge(f.base(), f.classifiers(), name + "-saved", "--force");   // an earlier output, heads/ and all, replaced
    }

    /** --heads from:K: the output is model K's class, names as its own checkpoint spells them, its labels. */
    private static void headFromAModelLoads(Family f, String name) throws Exception {
        Path out = merge(f.base(), f.classifiers(), name + "-from-2", "--heads", "from:2");
        HfLoader.loads(out);
        JsonNode cfg = Wudi.json(out.resolve("config.json"));
        JsonNode own = Wudi.json(f.classifiers().get(1).resolve("config.json"));
        assertEquals(own.get("architectures"), cfg.get("architectures"));
        assertEquals(own.get("id2label"), cfg.get("id2label"));
        assertEquals(Wudi.shapes(f.classifiers().get(1)).keySet(), Wudi.shapes(out).keySet(),
                "model 2's own names, and only those");
    }

    @Test
    void plainMergesLoadAsTheBasesClass() throws Exception {
        for (Family f : List.of(gpt2s, llamas, berts, distilberts)) {
            HfLoader.loads(merge(f.base(), f.plain(), f.base().getFileName() + "-plain"));
        }
        Path sharded = merge(llamas.base(), llamas.plain(), "llama-sharded", "--shard-size", "20KB");
        assertTrue(Files.exists(sharded.resolve("model.safetensors.index.json")));
        HfLoader.loads(sharded);
    }

    @Test
    void gpt2HeadsLoad() throws Exception {
        bodyAndSavedHeadsLoad(gpt2s, "gpt2");
        headFromAModelLoads(gpt2s, "gpt2");
    }

    @Test
    void llamaHeadsLoad() throws Exception {
        bodyAndSavedHeadsLoad(llamas, "llama");
        headFromAModelLoads(llamas, "llama");
    }

    @Test
    void bertHeadsLoad() throws Exception {
        bodyAndSavedHeadsLoad(berts, "bert");
        headFromAModelLoads(berts, "bert");
    }

    @Test
    void distilbertHeadsLoad() throws Exception {
        bodyAndSavedHeadsLoad(distilberts, "distilbert");
        headFromAModelLoads(distilberts, "distilbert");
    }

    /**
     * LoRA adapters in, an adapter out: PEFT loads it on the base, and target_modules are the inputs' names where
     * they select exactly the modules written (c_attn), full paths where they would select more (c_fc is adapted in
     * layer 0 only). The plan and the report leave each adapter out of the modules it does not adapt.
     */
    @Test
    void adapterOutputsLoadWithPeft() throws Exception {
        Path a1 = SyntheticAdapter.write(tmp.resolve("lora-a1"), gpt2, "transformer.", "CAUSAL_LM", List.of("c_attn"),
                null, 4, 8, Map.of(), 31);
        Path a2 = SyntheticAdapter.write(tmp.resolve("lora-a2"), gpt2, "transformer.", "CAUSAL_LM",
                List.of("c_attn", "c_fc"), List.of(0), 2, 4, Map.of(), 32);
        for (Path a : List.of(a1, a2)) {
            HfLoader.loads(a, "--base", gpt2s.base().toString());
        }
        for (String[] solver : new String[][] {{"--solver", "spectral"}, {"--iters", "3"}}) {
            Path out = merge(gpt2s.base(), List.of(a1, a2), "lora-out-" + solver[1], "--as-adapter", solver[0],
                    solver[1]);
            HfLoader.loads(out, "--base", gpt2s.base().toString());
            JsonNode cfg = Wudi.json(out.resolve("adapter_config.json"));
            assertEquals(List.of("c_attn", "transformer.h.0.mlp.c_fc"), strings(cfg.get("target_modules")));
            assertEquals("test/gpt2", cfg.get("base_model_name_or_path").asText());
            String card = Files.readString(out.resolve("README.md"));
            assertTrue(card.startsWith("---\nbase_model: test/gpt2\n"), card);
        }
        // Llama, a rank per module: q_proj from both adapters (4 + 2), v_proj from the first only
        Model llama = HubModels.llama(2, 32, 48, 4, 2, 50, false, 2);
        Path l1 = SyntheticAdapter.write(tmp.resolve("lora-l1"), llama, "", "CAUSAL_LM", List.of("q_proj", "v_proj"),
                null, 4, 4, Map.of(), 33);
        Path l2 = SyntheticAdapter.write(tmp.resolve("lora-l2"), llama, "", "CAUSAL_LM", List.of("q_proj"), null, 2, 4,
                Map.of(), 34);
        Path lo = merge(llamas.base(), List.of(l1, l2), "lora-llama", "--as-adapter", "--solver", "spectral");
        HfLoader.loads(lo, "--base", llamas.base().toString());
        assertEquals(List.of("q_proj", "v_proj"), strings(Wudi.json(lo.resolve("adapter_config.json"))
                .get("target_modules")));
        // a task head kept in full (modules_to_save) and taken from one adapter
        Path s1 = SyntheticAdapter.write(tmp.resolve("lora-s1"), gpt2, "transformer.", "SEQ_CLS", List.of("c_attn"),
                null, 2, 2, Map.of("score.weight", Tensor.zeros(3, 64)), 35);
        Path s2 = SyntheticAdapter.write(tmp.resolve("lora-s2"), gpt2, "transformer.", "SEQ_CLS", List.of("c_attn"),
                null, 2, 2, Map.of("score.weight", Tensor.zeros(3, 64)), 36);
        Path so = merge(gpt2s.base(), List.of(s1, s2), "lora-seq", "--as-adapter", "--solver", "spectral", "--heads",
                "from:2");
        HfLoader.loads(so, "--base", gpt2s.base().toString(), "--num-labels", "3");
        assertEquals(List.of("score"), strings(Wudi.json(so.resolve("adapter_config.json")).get("modules_to_save")));

        // the plan and the report: adapter 1 takes no part in c_fc, adapter 2 none in layer 1's
        JsonNode plan = Wudi.json(Wudi.ok("plan", "--json", "--base", gpt2s.base().toString(), "--model", a1.toString(),
                "--model", a2.toString()).out());
        JsonNode fc0 = Wudi.record(plan, "h.0.mlp.c_fc.weight");
        assertEquals("[2]", fc0.get("models").toString());
        assertTrue(fc0.get("models_left_out").get("1").asText().contains("does not adapt"), fc0.toString());
        JsonNode fc1 = Wudi.record(plan, "h.1.mlp.c_fc.weight");
        assertEquals("[]", fc1.get("models").toString(), fc1.toString());
        assertEquals(2, fc1.get("models_left_out").size(), fc1.toString());
        assertEquals("[1,2]", Wudi.record(plan, "h.0.attn.c_attn.weight").get("models").toString());
        String text = Wudi.ok("plan", "--base", gpt2s.base().toString(), "--model", a1.toString(), "--model",
                a2.toString()).out();
        assertTrue(text.contains("model 1 left out of 6 tensors (a LoRA adapter that does not adapt this module: its"
                + " task vector is zero here): h.0.attn.c_proj.weight, h.0.mlp.c_fc.weight,"), text);
        assertTrue(text.matches("(?s).*h\\.1\\.mlp\\.c_fc\\.weight +linear +in-out +\\[64, 256\\] +rest: base \\(not"
                + " adapted\\) +0/2 .*"), text);
        Path report = tmp.resolve("lora-full.json");
        merge(gpt2s.base(), List.of(a1, a2), "lora-full", "--report", report.toString());
        JsonNode rec = Wudi.record(Wudi.json(report), "h.0.mlp.c_fc.weight");
        assertTrue(rec.get("models_left_out").get(0).asText().startsWith("model 1: a LoRA adapter that does not"
                + " adapt"), rec.toString());
    }

    private static List<String> strings(JsonNode a) {
        List<String> out = new ArrayList<>();
        a.forEach(x -> out.add(x.asText()));
        return out;
    }

    /** The checker is not a rubber stamp: each of these is what transformers would refuse or lose. */
    @Test
    void theLoaderNamesWhatWouldNotLoad() throws Exception {
        // a bare GPT-2 body beside a score head: transformers 4.x calls it a corrupted state dict
        Model bare = HubModels.withClassifier(gpt2, "score", 3, 5);
        HfLoader.Result r = HfLoader.run(HubFolder.write(tmp.resolve("bare-score"), bare, DType.F32));
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.out().contains("is corrupted") && r.out().contains("score.weight"), r.out());
        // a head of 3 rows under labels for 5
        Model wrong = HubModels.sequenceClassifier(gpt2, 3, 5);
        wrong.config().remove("label2id");
        wrong.config().putObject("id2label").put("0", "a").put("1", "b").put("2", "c").put("3", "d").put("4", "e");
        r = HfLoader.run(HubFolder.write(tmp.resolve("wrong-labels"), wrong, DType.F32));
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.out().contains("misshapen key score.weight: [3, 64] in the file, the class needs [5, 64]"),
                r.out());
        // a layer lost
        Model lost = gpt2.copy();
        lost.tensors().remove("h.1.mlp.c_fc.bias");
        r = HfLoader.run(HubFolder.write(tmp.resolve("lost"), lost, DType.F32));
        assertTrue(r.exit() == 1 && r.out().contains("missing key transformer.h.1.mlp.c_fc.bias [256]"), r.out());
        // an adapter whose target_modules do not select the modules it holds
        Path adapter = SyntheticAdapter.write(tmp.resolve("stray-adapter"), gpt2, "transformer.", "CAUSAL_LM",
                List.of("c_attn"), null, 2, 2, Map.of(), 7);
        String config = Files.readString(adapter.resolve("adapter_config.json"));
        Files.writeString(adapter.resolve("adapter_config.json"), config.replace("\"c_attn\"", "\"c_proj\""));
        r = HfLoader.run(adapter, "--base", gpt2s.base().toString());
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.out().contains("does not select transformer.h.0.attn.c_attn")
                && r.out().contains("missing keys for transformer.h.0.attn.c_proj"), r.out());
    }
}
