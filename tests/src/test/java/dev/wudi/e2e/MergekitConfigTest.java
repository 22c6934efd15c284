package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.bench.FixtureScorer;
import dev.wudi.hub.Wudi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * mergekit configs end to end on tests/fixtures/digits6 turned into Hugging Face folders: the YAML form of each
 * command-line merge writes the same bytes; task_arithmetic with weights 0.3 and a wudi config reproduce the PyTorch
 * references; command-line options override the config and say so; what is not supported stops with exit 2 naming
 * the line.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MergekitConfigTest {

    @TempDir
    static Path tmp;

    Path dir;
    Path base;
    final List<Path> models = new ArrayList<>();
    Path reference;

    @BeforeAll
    void folders() throws Exception {
        FixtureScorer fx = FixtureScorer.open(Fixtures.digits6());
        reference = fx.dir().resolve("reference");
        dir = tmp.resolve("hf");
        base = folder(fx.base(), "base");
        for (Path m : fx.models()) {
            models.add(folder(m, m.getFileName().toString().replace(".safetensors", "")));
        }
    }

    private Path folder(Path file, String name) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        Files.copy(file, d.resolve("model.safetensors"));
        return d;
    }

    /** A config with the base and the six models, each with the given per-model parameters. */
    private Path config(String name, String method, String modelParams, String rest) throws Exception {
        StringBuilder y = new StringBuilder("merge_method: " + method + "\nbase_model: " + base + "\nmodels:\n");
        for (Path m : models) {
            y.append("  - model: ").append(m).append('\n');
            if (modelParams != null) {
                y.append("    parameters: {").append(modelParams).append("}\n");
            }
        }
        y.append(rest);
        Path f = tmp.resolve(name + ".yml");
        Files.writeString(f, y.toString());
        return f;
    }

    private List<String> cli(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("merge", "--base", base.toString(), "--out", out.toString()));
        for (Path m : models) {
            a.add("--model");
            a.add(m.toString());
        }
        a.addAll(List.of(more));
        return a;
    }

    private void sameBytes(String name, Path config, String... cliOptions) throws Exception {
        Path y = tmp.resolve(name + "-yaml");
        Path c = tmp.resolve(name + "-cli");
        Wudi.ok("mergekit-yaml", config.toString(), y.toString());
        Wudi.ok(cli(c, cliOptions).toArray(new String[0]));
        assertArrayEquals(Files.readAllBytes(c.resolve("model.safetensors")), Files.readAllBytes(y.resolve(
                "model.safetensors")), name + ": the YAML form writes the CLI form's bytes");
        assertTrue(Files.readString(y.resolve("mergekit_config.yml")).contains("merge_method:"));
        assertTrue(Files.readString(y.resolve("README.md")).contains("## Configuration"), "the card shows the config");
    }

    @Test
    void yamlFormsOfCommandLineMergesWriteTheSameBytes() throws Exception {
        sameBytes("wudi", config("wudi", "wudi", null, "parameters: {learning_rate: 0.001, iterations: 30}\n"),
                "--lr", "1e-3", "--iters", "30");
        sameBytes("spectral", config("spectral", "wudi", null, "parameters: {solver: spectral}\n"),
                "--solver", "spectral");
        sameBytes("ta", config("ta", "task_arithmetic", "weight: 1", "parameters: {lambda: 0.3}\n"),
                "--method", "task-arithmetic", "--scale", "0.3");
        sameBytes("ties", config("ties", "ties", "weight: 1, density: 0.2", ""), "--method", "ties", "--density", "0.2");
        sameBytes("linear", config("linear", "linear", "weight: 1", ""), "--method", "average");
        sameBytes("dare", config("dare", "dare_ties", "weight: 1, density: 0.5", ""), "--method", "dare-ties",
                "--density", "0.5");
        sameBytes("stock", config("stock", "model_stock", null, ""), "--method", "model-stock");
        Path slerp = yaml("slerp", "merge_method: slerp\nbase_model: " + base + "\nmodels:\n  - model: " + models.get(0)
                + "\nparameters: {t: 0.3}\n");
        Path y = tmp.resolve("slerp-yaml");
        Path c = tmp.resolve("slerp-cli");
        Wudi.ok("mergekit-yaml", slerp.toString(), y.toString());
        Wudi.ok("merge", "--base", base.toString(), "--model", models.get(0).toString(), "--out", c.toString(), "--method",
                "slerp", "--t", "0.3");
        assertArrayEquals(Files.readAllBytes(c.resolve("model.safetensors")), Files.readAllBytes(y.resolve(
                "model.safetensors")), "slerp: the YAML form writes the CLI form's bytes");
    }

    @Test
    void taskArithmeticWeightsAndWudiReproduceTheReferences() throws Exception {
        Path ta = tmp.resolve("ta-ref");
        Wudi.ok("mergekit-yaml", config("ta-ref", "task_arithmetic", "weight: 0.3", "dtype: float32\n").toString(),
                ta.toString());
        // the reference is b + 0.3 * sum tau in float32; sum of 0.3 tau rounds elsewhere: within float32 spacing
        assertTrue(Digits6Test.maxAbsDiff(ta.resolve("model.safetensors"), reference.resolve(
                "task_arithmetic_0.3.safetensors")) <= 1e-6);
        Path w = tmp.resolve("wudi-ref");
        Wudi.ok("mergekit-yaml", config("wudi-ref", "wudi", null, "parameters: {learning_rate: 0.001, iterations: 300}\n")
                .toString(), w.toString());
        assertTrue(Digits6Test.maxAbsDiff(w.resolve("model.safetensors"), reference.resolve(
                "wudi_adam_lr1e-3_300.safetensors")) <= Digits6Test.TOL_LR_1E3);
    }

    @Test
    void tokenizerSourceShardsAndThreads() throws Exception {
        Files.writeString(base.resolve("tokenizer.json"), "{\"from\": \"base\"}");
        Files.writeString(models.get(1).resolve("tokenizer.json"), "{\"from\": \"model 2\"}");
        Path cfg = config("tok", "dare_ties", "weight: 1, density: 0.5", "tokenizer_source: " + models.get(1)
                + "\nrandom_seed: 3\n");
        Path one = tmp.resolve("tok-1");
        Wudi.ok("mergekit-yaml", cfg.toString(), one.toString(), "--threads", "1", "--shard-size", "100KB");
        assertEquals("{\"from\": \"model 2\"}", Files.readString(one.resolve("tokenizer.json")),
                "tokenizer_source names the model whose tokenizer files are copied");
        String index = Files.readString(one.resolve("model.safetensors.index.json"));
        assertTrue(index.contains("\"total_size\"") && index.contains("\"wudi_version\""), index);
        Wudi.Result inspect = Wudi.ok("inspect", one.toString());
        List<String> rows = inspect.out().lines().filter(l -> l.startsWith("enc.")).toList();
        List<String> sorted = new ArrayList<>(rows);
        java.util.Collections.sort(sorted);
        assertEquals(sorted, rows, "inspect lists a folder's tensors in name order");
        assertTrue(rows.stream().allMatch(l -> l.matches(".*  model-\\d{5}-of-\\d{5}\\.safetensors")), "each with its"
                + " shard:\n" + inspect.out());
        assertTrue(inspect.out().contains("metadata of model-00001-of-"), "every shard's metadata:\n" + inspect.out());
        Path two = tmp.resolve("tok-2");
        Wudi.ok("mergekit-yaml", cfg.toString(), two.toString(), "--threads", "2", "--shard-size", "100KB");
        try (var files = Files.list(one)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList()) {
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(two.resolve(f.getFileName())),
                        f.getFileName() + ": dare_ties gives the same bytes with 1 and 2 threads");
            }
        }
    }

    @Test
    void oneModuleOfModelsIsTheSameMergeAsModels() throws Exception {
        StringBuilder y = new StringBuilder("merge_method: task_arithmetic\nbase_model: " + base
                + "\nmodules:\n  default:\n    models:\n");
        for (Path m : models) {
            y.append("      - model: ").append(m).append("\n        parameters: {weight: 0.3}\n");
        }
        Path cfg = yaml("module", y.toString());
        Path a = tmp.resolve("module-a");
        Wudi.ok("mergekit-yaml", cfg.toString(), a.toString());
        Path b = tmp.resolve("module-b");
        Wudi.ok("mergekit-yaml", config("module-b", "task_arithmetic", "weight: 0.3", "").toString(), b.toString());
        assertArrayEquals(Files.readAllBytes(b.resolve("model.safetensors")), Files.readAllBytes(a.resolve(
                "model.safetensors")));
    }

    @Test
    void nuslerpWithoutBaseRuns() throws Exception {
        Path cfg = yaml("nuslerp-nobase", "merge_method: nuslerp\nmodels:\n  - model: " + models.get(0)
                + "\n    parameters: {weight: 1}\n  - model: " + models.get(1) + "\n    parameters: {weight: 3}\n");
        Wudi.Result r = Wudi.ok("mergekit-yaml", cfg.toString(), tmp.resolve("nuslerp-nobase-out").toString());
        assertTrue(r.err().contains("no base_model: " + models.get(0) + " gives the tensor names and layout"), r.err());
    }

    @Test
    void chatTemplatesReachTheTokenizer() throws Exception {
        String baseConfig = "{\"model_max_length\": 512}";
        Files.writeString(base.resolve("tokenizer_config.json"), baseConfig);
        Path cfg = config("chat", "task_arithmetic", "weight: 1", "chat_template: chatml\n");
        Path out = tmp.resolve("chat");
        Wudi.ok("mergekit-yaml", cfg.toString(), out.toString());
        String jinja = Files.readString(out.resolve("chat_template.jinja"));
        assertTrue(jinja.contains("<|im_start|>") && jinja.contains("add_generation_prompt"), jinja);
        assertEquals(jinja, new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve(
                "tokenizer_config.json").toFile()).path("chat_template").asText());
        assertEquals(baseConfig, Files.readString(base.resolve("tokenizer_config.json")), "the input is not modified");
        for (int i = 0; i < models.size(); i++) {
            Files.writeString(models.get(i).resolve("tokenizer_config.json"), "{\"chat_template\": \""
                    + (i < 4 ? "{{ messages }} majority template" : "{{ messages }} other template") + "\"}");
        }
        Path auto = tmp.resolve("chat-auto");
        Wudi.ok("mergekit-yaml", config("chat-auto", "task_arithmetic", "weight: 1", "chat_template: auto\n").toString(),
                auto.toString());
        assertEquals("{{ messages }} majority template", Files.readString(auto.resolve("chat_template.jinja")));
        refused("chat-named", "merge_method: task_arithmetic\nbase_model: " + base + "\nmodels:\n  - model: "
                + models.get(0) + "\n    parameters: {weight: 1}\nchat_template: llama3\n", "chat-named.yml:6:"
                + " chat_template 'llama3' is neither auto, chatml nor a Jinja template's text");
    }

    @Test
    void commandLineOptionsOverrideTheConfigAndSaySo() throws Exception {
        Path cfg = config("override", "task_arithmetic", "weight: 1", "parameters: {lambda: 0.3}\n");
        Path a = tmp.resolve("override-a");
        Wudi.Result r = Wudi.ok("merge", "--config", cfg.toString(), "--out", a.toString(), "--scale", "0.5");
        assertTrue(r.err().contains("given on the command line, overriding " + cfg + ": --scale (the config's lambda)"),
                r.err());
        Path b = tmp.resolve("override-b");
        Wudi.ok(cli(b, "--method", "task-arithmetic", "--scale", "0.5").toArray(new String[0]));
        assertArrayEquals(Files.readAllBytes(b.resolve("model.safetensors")), Files.readAllBytes(a.resolve(
                "model.safetensors")));
    }

    @Test
    void gradientsAndFiltersReachTheTensors() throws Exception {
        // weight 0 for fc1 (filter), a gradient for the rest: each tensor of the output follows its own value
        Path cfg = config("grad", "task_arithmetic", null, "parameters:\n  weight:\n    - filter: fc1\n      value: 0\n"
                + "    - value: [1, 0]\n");
        Path out = tmp.resolve("grad");
        Wudi.ok("mergekit-yaml", cfg.toString(), out.toString());
        assertEquals(0.0, Digits6Test.maxAbsDiffTensor(out.resolve("model.safetensors"), base.resolve(
                "model.safetensors"), "enc.fc1.weight"), "weight 0: fc1 keeps the base");
        assertTrue(Digits6Test.maxAbsDiffTensor(out.resolve("model.safetensors"), base.resolve("model.safetensors"),
                "enc.fc2.weight") > 0, "the gradient's value 1 outside the layers (t = 0) changes fc2");
    }

    @Test
    void unsupportedAndMistypedConfigsStopWithTheLine() throws Exception {
        String head = "merge_method: ties\nbase_model: " + base + "\nmodels:\n  - model: " + models.get(0)
                + "\n    parameters: {weight: 1}\n";
        refused("typo", head + "parameters:\n  desnity: 0.5\n", "typo.yml:7: ties has no parameter 'desnity'");
        refused("top", head + "merge_methd: ties\n", "top.yml:6: unknown key 'merge_methd'");
        refused("union", head + "tokenizer_source: union\n", "union.yml:6: tokenizer source 'union'");
        refused("karcher", head.replace("ties", "karcher"), "merge_method karcher is mergekit's but not supported here yet");
        refused("slerp", head.replace("ties", "slerp").replace("    parameters: {weight: 1}\n", ""),
                "slerp.yml:1: slerp interpolates the base_model and one other model at t: parameters: {t: ...} is missing");
        refused("weight", "merge_method: ties\nbase_model: " + base + "\nmodels:\n  - model: " + models.get(0) + "\n",
                "weight.yml:4: model " + models.get(0) + " needs a weight");
        refused("string", head + "parameters:\n  lambda: high\n", "string.yml:7: parameter lambda must be a number");
        refused("hub", head.replace(models.get(0).toString(), "mistralai/Mistral-7B-v0.1"),
                "model 'mistralai/Mistral-7B-v0.1' is not a local file or folder (a hub id?");
        refused("slices", "merge_method: ties\nbase_model: " + base + "\nslices:\n  - sources:\n      - model: "
                + models.get(0) + "\n        layer_range: [0, 2]\n", "slices.yml:6: the layer count of");
        refused("modules", "merge_method: ties\nbase_model: " + base + "\nmodules:\n  text: {models: []}\n"
                + "  vision: {models: []}\n", "modules.yml:3: 2 modules: separate merges per module");
    }

    /**
     * The shapes of mergekit's own examples/ (written here anew, model ids replaced by the local digits6 folders):
     * linear with three weights; ties with gradients of density and weight and a {filter, value} weight, normalize and
     * int8_mask; ties with normalize off; and the three that use what is not supported here (slerp with slices and
     * filtered gradients, a passthrough frankenmerge of two layer ranges, arcee_fusion), which stop with their reason.
     */
    @Test
    void mergekitExampleShapesParseOrStopWithTheirReason() throws Exception {
        Path m0 = models.get(0);
        Path m1 = models.get(1);
        Path m2 = models.get(2);
        Path linear = yaml("ex-linear", "models:\n  - model: " + m0 + "\n    parameters:\n      weight: 1.0\n"
                + "  - model: " + m1 + "\n    parameters:\n      weight: 0.3\n  - model: " + m2
                + "\n    parameters:\n      weight: 0.5\nmerge_method: linear\ndtype: float16\n");
        dev.wudi.spec.MergeSpec o = dev.wudi.config.ConfigOptions.read(linear, tmp.resolve("x")).builder().build();
        assertEquals("average", o.method().name());
        assertEquals(0.3, o.parameters().forTensor("enc.fc1.weight").model(1, "weight"), 0);
        assertEquals(dev.wudi.format.DType.F16, o.outDType());
        Path ties = yaml("ex-ties", "models:\n  - model: " + base + "\n  - model: " + m0 + "\n    parameters:\n"
                + "      density: [1, 0.7, 0.1]\n      weight: 1.0\n  - model: " + m1 + "\n    parameters:\n"
                + "      density: 0.5\n      weight: [0, 0.3, 0.7, 1]\n  - model: " + m2 + "\n    parameters:\n"
                + "      density: 0.33\n      weight:\n        - filter: fc2\n          value: 0.5\n"
                + "        - value: 0\nmerge_method: ties\nbase_model: " + base + "\nparameters:\n"
                + "  normalize: true\n  int8_mask: true\ndtype: float16\n");
        o = dev.wudi.config.ConfigOptions.read(ties, tmp.resolve("x")).builder().build();
        assertEquals(3, o.models().size(), "the base listed among the models is the base");
        dev.wudi.method.TensorParameters fc2 = o.parameters().forTensor("enc.fc2.weight");
        assertEquals(0.5, fc2.model(2, "weight"), 0);
        assertEquals(0.0, o.parameters().forTensor("enc.fc1.weight").model(2, "weight"), 0);
        assertEquals(1.0, fc2.model(0, "density"), 0, "outside the layers t = 0: the gradient's first anchor");
        Path bio = yaml("ex-bio", "models:\n  - model: " + m0 + "\n    parameters:\n      density: 0.5\n"
                + "      weight: 0.5\n  - model: " + m1 + "\n    parameters:\n      density: 0.5\n      weight: 0.5\n"
                + "merge_method: ties\nbase_model: " + base + "\nparameters:\n  normalize: false\n  int8_mask: true\n"
                + "dtype: float16\n");
        assertEquals(0.0, dev.wudi.config.ConfigOptions.read(bio, tmp.resolve("x")).builder().build().parameters()
                .forTensor("enc.fc1.weight").global("normalize"), 0);
        String slerpShape = "slices:\n  - sources:\n      - model: MODEL0\n        layer_range: [0, 40]\n"
                + "      - model: MODEL1\n        layer_range: [0, 40]\nmerge_method: slerp\nbase_model: MODEL0"
                + "\nparameters:\n  t:\n    - filter: self_attn\n      value: [0, 0.5, 0.3, 0.7, 1]\n    - value: 0.5\n";
        refused("ex-slerp", slerpShape.replace("MODEL0", m0.toString()).replace("MODEL1", m1.toString()),
                "the layer count of");                      // digits6 has no config.json to count its layers
        Path l0 = Files.createDirectories(tmp.resolve("forty/a"));
        Path l1 = Files.createDirectories(tmp.resolve("forty/b"));
        for (Path l : List.of(l0, l1)) {
            Files.writeString(l.resolve("config.json"), "{\"num_hidden_layers\": 40}");
        }
        o = dev.wudi.config.ConfigOptions.read(yaml("ex-slerp-40", slerpShape.replace("MODEL0", l0.toString())
                .replace("MODEL1", l1.toString())), tmp.resolve("x")).builder().build();
        assertEquals("slerp", o.method().name());
        assertEquals(List.of(l1), o.models(), "one slice of every layer: the same as models:");
        assertEquals(2 * 0.5 / 3 + 0.3 / 3, o.parameters().forTensor("model.layers.13.self_attn.q_proj.weight")
                .global("t"), 1e-12, "t = 13/39: s = 4/3, a third of the way from anchor 0.5 to anchor 0.3");
        assertEquals(0.5, o.parameters().forTensor("model.layers.13.mlp.up_proj.weight").global("t"), 0);
        refused("ex-passthrough", "slices:\n  - sources:\n      - model: " + m0 + "\n        layer_range: [0, 24]\n"
                + "  - sources:\n      - model: " + m1 + "\n        layer_range: [20, 40]\nmerge_method: passthrough\n",
                "2 slices: stacking or cutting layers (a frankenmerge) is not supported");
        refused("ex-fusion", "models:\n  - model: " + m0 + "\n  - model: " + m1 + "\nmerge_method: arcee_fusion\n"
                + "base_model: " + m0 + "\ndtype: bfloat16\n", "merge_method arcee_fusion is mergekit's but not supported");
    }

    private Path yaml(String name, String text) throws Exception {
        Path f = tmp.resolve(name + ".yml");
        Files.writeString(f, text);
        return f;
    }

    private void refused(String name, String yaml, String expected) throws Exception {
        Path f = tmp.resolve(name + ".yml");
        Files.writeString(f, yaml);
        Wudi.Result r = Wudi.run("mergekit-yaml", f.toString(), tmp.resolve(name + "-out").toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in\n" + r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        assertFalse(Files.exists(tmp.resolve(name + "-out")));
    }
}
