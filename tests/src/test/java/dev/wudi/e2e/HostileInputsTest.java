package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.Tensor;
import dev.wudi.hub.Wudi;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile inputs on the input side, each spoiling one small fixture ({@link HostileFixtures}) one way: mergekit configs
 * (size, encoding, aliases, documents, numbers out of range or of the wrong type, weights that cancel under
 * normalize, a layer count gradients would spread over wrongly), PEFT adapter configs (wrong types, ranks and alphas,
 * factors for modules the config does not target), a folder with both a single file and an index, a config.json
 * whose layout contradicts the shapes. Each is a clean refusal (the exit code, the message on one line naming the
 * file and, for YAML, the line; no stack trace; nothing written) or a correct merge.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputsTest {

    @TempDir
    static Path tmp;

    Path base;
    Path ft1;
    Path ft2;

    @BeforeAll
    void fixtures() throws Exception {
        Map<String, Tensor> b = HostileFixtures.gpt2(true, 1, 0.1);
        base = HostileFixtures.folder(tmp.resolve("base"), HostileFixtures.gpt2Config(HostileFixtures.LAYERS), b);
        ft1 = HostileFixtures.folder(tmp.resolve("ft1"), HostileFixtures.gpt2Config(HostileFixtures.LAYERS),
                HostileFixtures.fineTune(b, 11));
        ft2 = HostileFixtures.folder(tmp.resolve("ft2"), HostileFixtures.gpt2Config(HostileFixtures.LAYERS),
                HostileFixtures.fineTune(b, 12));
    }

    // ------------------------------------------------------------------------------------------- mergekit configs

    /** A config over the base and the two fine-tunes: "W1" and "W2" stand for each model's parameters. */
    private Path config(String name, String method, String w1, String w2, String rest) throws Exception {
        return yaml(name, "merge_method: " + method + "\nbase_model: " + base + "\nmodels:\n  - model: " + ft1
                + "\n    parameters: {" + w1 + "}\n  - model: " + ft2 + "\n    parameters: {" + w2 + "}\n" + rest);
    }

    private Path yaml(String name, String text) throws Exception {
        Path f = tmp.resolve(name + ".yml");
        Files.writeString(f, text);
        return f;
    }

    private void refusedConfig(Path config, String expected) {
        Path out = tmp.resolve(config.getFileName() + "-out");
        refused(2, expected, out, "mergekit-yaml", config.toString(), out.toString());
    }

    @Test
    void configValuesOutOfRangeOrOfTheWrongTypeStopAtTheirLine() throws Exception {
        refusedConfig(config("inf", "ties", "weight: 1e400", "weight: 1", ""),
                "inf.yml:5: the number 1e400 is beyond any float");
        refusedConfig(config("f32", "ties", "weight: 1e39", "weight: 1", ""),
                "f32.yml:5: parameter weight 1.0E39 must be a finite number (float32: |x| <= 3.4e38)");
        refusedConfig(config("bool", "ties", "weight: true", "weight: 1", ""),
                "bool.yml:5: parameter weight must be a finite number (float32: |x| <= 3.4e38), got true (a flag, not a"
                        + " number)");
        refusedConfig(config("flag", "ties", "weight: 1", "weight: 1", "parameters: {normalize: 3}\n"),
                "flag.yml:8: parameter normalize is true or false, got 3");
        refusedConfig(config("dense", "ties", "weight: 1, density: 1.5", "weight: 1", ""),
                "dense.yml:5: parameter density 1.5 must be a number in (0, 1]");
        refusedConfig(config("dense0", "dare_ties", "weight: 1, density: [1, 0]", "weight: 1", ""),
                "dense0.yml:5: parameter density 0 must be a number in (0, 1]");
        refusedConfig(config("della", "della", "weight: 1, density: 0.1", "weight: 1", ""),
                "della.yml:5: density 0.1 with epsilon 0.15: della keeps each element with a probability in density"
                        + " +- epsilon, which must lie inside (0, 1)");
        String wudi = "merge_method: wudi\nbase_model: " + base + "\nmodels:\n  - model: " + ft1 + "\n  - model: "
                + ft2 + "\nparameters:\n";
        refusedConfig(yaml("iters", wudi + "  iterations: 99999999999\n"),
                "iters.yml:7: parameter iterations 99999999999 must be an integer from 0 to 2147483647");
        refusedConfig(yaml("negiters", wudi + "  iterations: -5\n"),
                "negiters.yml:7: parameter iterations -5 must be an integer from 0 to 2147483647");
        refusedConfig(yaml("rank", wudi + "  solver: spectral\n  rank: 4.5\n"),
                "rank.yml:8: parameter rank must be an integer from 0 to 2147483647 (a whole number), got 4.5");
        refusedConfig(yaml("beta", wudi + "  beta1: 1\n"), "beta.yml:7: parameter beta1 1 must be a number in [0, 1)");
        refusedConfig(yaml("lr", wudi + "  lr: 0\n"), "lr.yml:7: parameter lr 0 must be a number > 0");
    }

    @Test
    void yamlFeaturesThatWouldChangeTheMergeSilentlyAreRefused() throws Exception {
        refusedConfig(yaml("alias", "merge_method: linear\nmodels:\n  - model: " + ft1 + "\n    parameters: {weight: &w0"
                + " 0.5}\n  - model: " + ft2 + "\n    parameters: {weight: *w0}\n"),
                "alias.yml:6: the YAML alias *w0 is not supported; write the value out where it is used");
        refusedConfig(yaml("twodocs", "merge_method: linear\nmodels:\n  - model: " + ft1 + "\n    parameters: {weight:"
                + " 1}\n---\nmerge_method: ties\n"),
                "twodocs.yml:6: a second YAML document (after ---); a merge config is one document");
        refusedConfig(yaml("range", "merge_method: ties\nbase_model: " + base + "\nslices:\n  - sources:\n      - model: "
                + ft1 + "\n        layer_range: [\"0\", 2]\n"),
                "range.yml:5: a slice source needs layer_range: [START, END], two integers");
    }

    @Test
    void theConfigFileItselfIsCapped() throws Exception {
        Path big = yaml("big", "merge_method: linear\n# " + "x".repeat(2 << 20) + "\n");
        refusedConfig(big, "big.yml: " + Files.size(big) + " bytes, more than a merge config holds (at most 1048576)");
        Path latin1 = tmp.resolve("latin1.yml");
        Files.write(latin1, ("merge_method: linear\n# caf\u00e9\n").getBytes(StandardCharsets.ISO_8859_1));
        refusedConfig(latin1, "latin1.yml:2: not UTF-8 text");
        // a long comment line under the cap parses (in linear time: LocatedYamlTest measures the work) and merges
        Path longLine = yaml("longline", "merge_method: linear\n# " + "x".repeat(900_000) + "\nmodels:\n  - model: "
                + ft1 + "\n    parameters: {weight: 1}\n  - model: " + ft2 + "\n    parameters: {weight: 1}\n");
        Wudi.ok("mergekit-yaml", longLine.toString(), tmp.resolve("longline-out").toString());
    }

    /** mergekit's linear divides by sum(weights) with no guard: weights 1 and -1 give [inf, nan, -inf] there. */
    @Test
    void linearWeightsThatSumToZeroUnderNormalizeAreRefused() throws Exception {
        refusedConfig(config("cancel", "linear", "weight: 1", "weight: -1", ""),
                "cancel.yml:5: linear with normalize divides by the sum of the models' weights, which is 0 for tensor"
                        + " transformer.wte.weight (weights 1.0, -1.0; mergekit divides by zero there and writes Inf/NaN)");
        refusedConfig(config("cancelfilter", "linear", "weight: [{filter: c_fc, value: -1}, {value: 1}]", "weight: 1",
                ""), "which is 0 for tensor transformer.h.0.mlp.c_fc.weight");
        Path plain = config("nonorm", "linear", "weight: 1", "weight: -1", "parameters: {normalize: false}\n");
        Wudi.ok("mergekit-yaml", plain.toString(), tmp.resolve("nonorm-out").toString());
        Map<String, Tensor> got = Wudi.tensors(tmp.resolve("nonorm-out"));
        Map<String, Tensor> a = Wudi.tensors(ft1);
        Map<String, Tensor> b = Wudi.tensors(ft2);
        float[] w = got.get("transformer.wte.weight").data();
        for (int j = 0; j < w.length; j++) {
            assertEquals(a.get("transformer.wte.weight").data()[j] - b.get("transformer.wte.weight").data()[j], w[j],
                    1e-6, "normalize false: W1 - W2");
        }
    }

    @Test
    void aLayerCountGradientsWouldSpreadOverWronglyIsRefused() throws Exception {
        Map<String, Tensor> b = HostileFixtures.gpt2(true, 1, 0.1);
        Path six = HostileFixtures.folder(tmp.resolve("six"), HostileFixtures.gpt2Config(6), b);
        Path f = HostileFixtures.folder(tmp.resolve("six-ft"), HostileFixtures.gpt2Config(6),
                HostileFixtures.fineTune(b, 11));
        String head = "merge_method: task_arithmetic\nbase_model: " + six + "\nmodels:\n  - model: " + f + "\n";
        refusedConfig(yaml("sixlayers", head + "    parameters: {weight: [0, 1]}\n"), "sixlayers.yml:5: this gradient"
                + " spreads over the layers by " + six.resolve("config.json") + "'s n_layer 6, but the base's tensors hold"
                + " 2 layers (0 to 1)");
        Wudi.ok("mergekit-yaml", yaml("sixscalar", head + "    parameters: {weight: 0.5}\n").toString(),
                tmp.resolve("sixscalar-out").toString());
        // a single file has no config.json: its layers are counted in the tensor names, so layer 1 of 2 is t = 1
        Path file = tmp.resolve("single.safetensors");
        HubFolder.writeSafetensors(file, b, DType.F32, Map.of());
        Path ftFile = tmp.resolve("single-ft.safetensors");
        HubFolder.writeSafetensors(ftFile, HostileFixtures.fineTune(b, 11), DType.F32, Map.of());
        Path cfg = yaml("single", "merge_method: task_arithmetic\nbase_model: " + file + "\nmodels:\n  - model: "
                + ftFile + "\n    parameters: {weight: [0, 0.5, 1]}\n");
        dev.wudi.method.ParameterSource p = dev.wudi.config.ConfigOptions.read(cfg, tmp.resolve("x.safetensors"))
                .builder().build().parameters();
        assertEquals(0.0, p.forTensor("transformer.h.0.attn.c_attn.weight").model(0, "weight"), 0);
        assertEquals(1.0, p.forTensor("transformer.h.1.attn.c_attn.weight").model(0, "weight"), 0);
    }

    /** The command line takes its ranges from the same place, and says them in the same words. */
    @Test
    void theCommandLineSaysTheSameRanges() {
        Path out = tmp.resolve("cli-out");
        refused(2, "--density must be a number in (0, 1], got 1.5", out, Wudi.mergeArgs(base, List.of(ft1, ft2), out,
                "--method", "ties", "--density", "1.5"));
        refused(2, "--scale must be a finite number (float32: |x| <= 3.4e38), got 1e39", out,
                Wudi.mergeArgs(base, List.of(ft1, ft2), out, "--method", "ties", "--scale", "1e39"));
    }

    // ------------------------------------------------------------------------------------------------- adapters

    private Path adapter(String name, String key, String valueJson, List<Integer> layers) throws Exception {
        return HostileFixtures.adapter(tmp.resolve(name), HostileFixtures.adapterConfig(key, valueJson), layers, 5);
    }

    private void refusedAdapter(Path adapter, String expected) {
        Path out = tmp.resolve(adapter.getFileName() + "-out");
        refused(1, expected, out, Wudi.mergeArgs(base, List.of(adapter, ft1), out, "--method", "task-arithmetic"));
    }

    @Test
    void adapterConfigsOfTheWrongTypeAreRefusedNotDefaulted() throws Exception {
        List<Integer> both = List.of(0, 1);
        refusedAdapter(adapter("alpha-text", "lora_alpha", "\"sixteen\"", both),
                "lora_alpha is \"sixteen\", but PEFT reads it as a number");
        refusedAdapter(adapter("rslora-text", "use_rslora", "\"yes\"", both),
                "use_rslora is \"yes\", but PEFT reads it as true or false");
        refusedAdapter(adapter("r-text", "r", "\"four\"", both), "r is \"four\", but PEFT reads it as an integer rank");
        refusedAdapter(adapter("r-real", "r", "4.5", both), "r is 4.5, but PEFT reads it as an integer rank");
        refusedAdapter(adapter("alpha-zero", "lora_alpha", "0", both), "lora_alpha 0 is not a positive finite alpha");
        refusedAdapter(adapter("alpha-huge", "lora_alpha", "1e39", both), "lora_alpha 1.0E39 is not a positive finite"
                + " alpha");
        refusedAdapter(adapter("fifo-text", "fan_in_fan_out", "\"true\"", both), "fan_in_fan_out is \"true\", but"
                + " PEFT reads it as true or false");
        refusedAdapter(adapter("pattern-list", "rank_pattern", "[2]", both), "rank_pattern is [2], but PEFT reads it"
                + " as an object");
    }

    @Test
    void adapterFactorsMustBeForTargetedModules() throws Exception {
        List<Integer> both = List.of(0, 1);
        refusedAdapter(adapter("untargeted", "target_modules", "[\"c_fc\"]", both), "holds LoRA factors for module"
                + " transformer.h.0.attn.c_attn, which adapter_config.json does not target (target_modules [c_fc]);"
                + " PEFT would not apply them");
        refusedAdapter(adapter("regex-whole", "target_modules", "\"c_attn\"", both), "module transformer.h.0.attn.c_attn,"
                + " which adapter_config.json does not target (target_modules 'c_attn' (a regex))");
        refusedAdapter(adapter("layers", "layers_to_transform", "[0]", both), "module transformer.h.1.attn.c_attn,"
                + " which adapter_config.json does not target");
        // as PEFT matches them: a suffix at a dot, a regex over the whole name, the layer kept
        for (String[] ok : new String[][] {{"suffix", "target_modules", "[\"attn.c_attn\"]"},
            {"regex", "target_modules", "\"transformer\\\\.h\\\\.\\\\d+\\\\.attn\\\\.c_attn\""},
            {"layer0", "layers_to_transform", "[0]"}}) {
            Path a = adapter("ok-" + ok[0], ok[1], ok[2], ok[0].equals("layer0") ? List.of(0) : both);
            Wudi.ok(Wudi.mergeArgs(base, List.of(a, ft1), tmp.resolve("ok-" + ok[0] + "-out"), "--method",
                    "task-arithmetic"));
        }
    }

    // ------------------------------------------------------------------------------------------ folders, configs

    /**
     * transformers' from_pretrained takes model.safetensors where a folder has it, also beside an index (mergekit
     * would take the index): the merge reads the same file and says so once.
     */
    @Test
    void aFolderWithBothASingleFileAndAnIndexIsReadAsTransformersReadsIt() throws Exception {
        Path both = Files.createDirectories(tmp.resolve("both"));
        Files.copy(ft1.resolve("model.safetensors"), both.resolve("model.safetensors"));
        Files.copy(ft1.resolve("config.json"), both.resolve("config.json"));
        HubFolder.writeSafetensors(both.resolve("model-00001-of-00001.safetensors"),
                HostileFixtures.fineTune(HostileFixtures.gpt2(true, 1, 0.1), 99), DType.F32, Map.of());
        StringBuilder map = new StringBuilder();
        for (String n : HostileFixtures.gpt2(true, 1, 0.1).keySet()) {
            map.append(map.length() == 0 ? "" : ",\n").append("    \"").append(n).append("\": \"model-00001-of-00001"
                    + ".safetensors\"");
        }
        Files.writeString(both.resolve("model.safetensors.index.json"), "{\"metadata\": {}, \"weight_map\": {\n" + map
                + "\n}}\n");
        Wudi.Result r = Wudi.ok(Wudi.mergeArgs(base, List.of(both, ft2), tmp.resolve("both-out"), "--method",
                "task-arithmetic"));
        assertEquals(1, r.err().lines().filter(l -> l.contains(both + " holds both model.safetensors and"
                + " model.safetensors.index.json: model.safetensors is read, as transformers loads it")).count(), r.err());
        Wudi.ok(Wudi.mergeArgs(base, List.of(ft1, ft2), tmp.resolve("single-out"), "--method", "task-arithmetic"));
        assertEquals(Files.mismatch(tmp.resolve("both-out/model.safetensors"),
                tmp.resolve("single-out/model.safetensors")), -1L, "the same bytes as the single file alone");
    }

    @Test
    void aGpt2ConfigOverLinearWeightsIsRefusedNamingTheTensorAndShapes() throws Exception {
        Map<String, Tensor> linear = HostileFixtures.gpt2(false, 1, 0.1);
        Path b = HostileFixtures.folder(tmp.resolve("lin-base"), HostileFixtures.gpt2Config(2), linear);
        Path f = HostileFixtures.folder(tmp.resolve("lin-ft"), HostileFixtures.gpt2Config(2),
                HostileFixtures.fineTune(linear, 3));
        Path g = HostileFixtures.folder(tmp.resolve("lin-ft2"), HostileFixtures.gpt2Config(2),
                HostileFixtures.fineTune(linear, 4));
        Path out = tmp.resolve("lin-out");
        refused(1, b.resolve("config.json") + " says model_type gpt2, whose attn.c_attn is a Conv1D stored [in, out]"
                + " and so [8, 24] at width 8, but transformer.h.0.attn.c_attn.weight is [24, 8] (nn.Linear's [out, in]):"
                + " it would be optimised transposed", out, Wudi.mergeArgs(b, List.of(f, g), out));
        Wudi.ok(Wudi.mergeArgs(b, List.of(f, g), out, "--layout", "c_attn|c_fc|c_proj=out-in"));
    }

    // ------------------------------------------------------------------------------------------------------ ties

    /** ties' rescale is applied, and agreeing weights 0.5 and -0.5 move the weights (mergekit's divisor 1). */
    @Test
    void tiesRescaleAndOpposedWeightsChangeTheMerge() throws Exception {
        String rest = "parameters: {rescale: RESCALE}\n";
        Path plain = config("ties-plain", "ties", "weight: 1, density: 0.3", "weight: 0.5, density: 0.3",
                rest.replace("RESCALE", "false"));
        Path rescaled = config("ties-rescale", "ties", "weight: 1, density: 0.3", "weight: 0.5, density: 0.3",
                rest.replace("RESCALE", "true"));
        Wudi.ok("mergekit-yaml", plain.toString(), tmp.resolve("ties-plain-out").toString());
        Wudi.ok("mergekit-yaml", rescaled.toString(), tmp.resolve("ties-rescale-out").toString());
        assertNotEquals(-1L, Files.mismatch(tmp.resolve("ties-plain-out/model.safetensors"),
                tmp.resolve("ties-rescale-out/model.safetensors")), "rescale: true changes the merge");
        // a fine-tune whose task vector is ft1's negated: weighted 0.5 and -0.5 the two agree everywhere, the agreeing
        // weights sum to 0, and mergekit's divisor 1 gives W0 + 0.5 tau_1 + 0.5 tau_1 = ft1
        Map<String, Tensor> b = Wudi.tensors(base);
        Map<String, Tensor> one = Wudi.tensors(ft1);
        Map<String, Tensor> mirror = new java.util.LinkedHashMap<>();
        b.forEach((n, t) -> {
            float[] v = new float[t.numel()];
            for (int j = 0; j < v.length; j++) {
                v[j] = t.data()[j] - (one.get(n).data()[j] - t.data()[j]);
            }
            mirror.put(n, new Tensor(v, t.shape()));
        });
        Path m = HostileFixtures.folder(tmp.resolve("mirror"), HostileFixtures.gpt2Config(HostileFixtures.LAYERS),
                mirror);
        Path opposed = yaml("ties-opposed", "merge_method: ties\nbase_model: " + base + "\nmodels:\n  - model: " + ft1
                + "\n    parameters: {weight: 0.5}\n  - model: " + m + "\n    parameters: {weight: -0.5}\n");
        Wudi.ok("mergekit-yaml", opposed.toString(), tmp.resolve("ties-opposed-out").toString());
        Map<String, Tensor> got = Wudi.tensors(tmp.resolve("ties-opposed-out"));
        for (String n : b.keySet()) {
            for (int j = 0; j < b.get(n).numel(); j++) {
                float w0 = b.get(n).data()[j];
                float tau = one.get(n).data()[j] - w0;
                float tauMirror = mirror.get(n).data()[j] - w0;
                if (tau != 0 && tauMirror == -tau) {
                    assertEquals(w0 + tau, got.get(n).data()[j], 1e-6, n + " [" + j + "]: W0 + the weighted sum");
                }
            }
        }
    }

    // --------------------------------------------------------------------------------------------------- helpers

    /**
     * The run exits with {@code exit}, one line of stderr holds the whole of {@code expected}, there is no stack
     * trace, and nothing is written at {@code out} or beside it (no partial output, journal or lock).
     */
    private static void refused(int exit, String expected, Path out, String... args) {
        Wudi.Result r = Wudi.run(args);
        assertEquals(exit, r.exit(), r.toString());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("wudi:") && l.contains(expected)).count(),
                "expected one line holding '" + expected + "' in\n" + r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertFalse(Files.exists(out), out + " was written");
        try (Stream<Path> s = Files.list(out.getParent())) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().startsWith("." + out.getFileName()))
                    .toList(), "no partial output, journal or lock beside " + out);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
