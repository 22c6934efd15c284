package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.config.LocatedYaml;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.Wudi;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The config an output holds, OUT/mergekit_config.yml, runs again to the same merge: for every method (wudi with each
 * solver) with per-model parameters, gradients, filtered lists, dtypes, a tokenizer_source and a chat template, running
 * it gives the same files (weights, config.json, tokenizer) and the same mergekit_config.yml, byte for byte. The file
 * is one mergekit reads: only its keys, no nulls, every number in a spelling PyYAML reads as a number, no float32
 * noise.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConfigRoundTripTest {

    @TempDir
    static Path tmp;

    Path base;
    final List<Path> models = new ArrayList<>();

    /** mergekit's MergeConfiguration keys this engine writes, and random_seed, which mergekit's reader ignores. */
    static final Set<String> MERGEKIT_KEYS = Set.of("merge_method", "base_model", "models", "parameters", "dtype",
            "out_dtype", "tokenizer_source", "chat_template", "random_seed");

    /** Numbers as PyYAML (YAML 1.1) resolves them: decimal integers, floats with a dot and a signed exponent. */
    static final Pattern PYYAML_NUMBER = Pattern.compile("[-+]?(0|[1-9][0-9]*)|[-+]?[0-9]+\\.[0-9]*([eE][-+][0-9]+)?");

    @BeforeAll
    void folders() throws Exception {
        Model llama = HubModels.llama(3, 32, 48, 4, 2, 40, false, 71);
        base = HubFolder.write(tmp.resolve("in/base"), llama, DType.F32);
        tokenizer(base, 40);
        for (int i = 0; i < 3; i++) {
            Path m = HubFolder.write(tmp.resolve("in/ft" + (i + 1)), HubModels.fineTune(llama, "proj|norm", 2, 0.02,
                    72 + i), DType.F32);
            tokenizer(m, 40);
            models.add(m);
        }
    }

    /** A tokenizer.json of {@code tokens} tokens naming its folder. */
    static void tokenizer(Path folder, int tokens) throws Exception {
        StringBuilder v = new StringBuilder();
        for (int t = 0; t < tokens; t++) {
            v.append(t == 0 ? "" : ", ").append("\"t").append(t).append("\": ").append(t);
        }
        Files.writeString(folder.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {" + v
                + "}}, \"from\": \"" + folder.getFileName() + "\"}");
    }

    /** A config: the method, the base (unless null) and the models with their parameters, then the rest. */
    private String config(String method, boolean withBase, List<String> modelParams, String rest) {
        StringBuilder y = new StringBuilder("merge_method: " + method + "\n");
        if (withBase) {
            y.append("base_model: ").append(base).append('\n');
        }
        y.append("models:\n");
        for (int i = 0; i < modelParams.size(); i++) {
            y.append("  - model: ").append(models.get(i)).append('\n');
            if (modelParams.get(i) != null) {
                y.append("    parameters: ").append(modelParams.get(i)).append('\n');
            }
        }
        return y.append(rest).toString();
    }

    private Map<String, String> cases() {
        Map<String, String> c = new LinkedHashMap<>();
        List<String> none3 = java.util.Arrays.asList(null, null, null);
        c.put("wudi-adam", config("wudi", true, none3, "parameters: {lr: 1e-4, iters: 5, beta1: 0.85}\n"));
        c.put("wudi-exact", config("wudi", true, none3, "parameters: {solver: exact, ridge: 0.01}\n"));
        c.put("wudi-flow", config("wudi", true, none3, "parameters: {solver: flow, flow_time: 2.5}\n"));
        c.put("wudi-spectral", config("wudi", true, none3, "parameters:\n  solver: spectral\n  filter: tikhonov\n"
                + "  filter_param: 0.05\n  rank: 4\n  rest: average\n  exclude_regex: V_PROJ\n"));
        c.put("linear", config("linear", false, List.of("{weight: [1, 0.5, 0.25]}",
                "{weight: [{filter: mlp, value: 0.2}, {value: 1}]}", "{weight: 0.7}"), "parameters: {normalize: true}\n"
                + "dtype: bfloat16\n"));
        c.put("task_arithmetic", config("task_arithmetic", true, List.of("{weight: 1.0}", "{weight: 0.5}",
                "{weight: [0, 1]}"), "parameters:\n  lambda:\n    - filter: self_attn\n      value: 0.6\n"
                + "    - value: [0.3, 1.2]\ntokenizer_source: " + models.get(1) + "\n"));
        c.put("ties", config("ties", true, List.of("{density: [1, 0.7, 0.2], weight: 1.0}",
                "{density: 0.5, weight: [0.5, 1.0]}", "{density: .3, weight: 1e0}"),
                "parameters: {normalize: true, int8_mask: true, rescale: false}\ndtype: float16\nout_dtype: float32\n"));
        c.put("dare_linear", config("dare_linear", true, List.of("{density: 0.6, weight: 0.7}", "{density: 0.4,"
                + " weight: 0.5}", "{density: [0.9, 0.5], weight: 0.2}"), "random_seed: 7\n"));
        c.put("dare_ties", config("dare_ties", true, List.of("{density: 0.6, weight: 0.7}", "{density: 0.4, weight:"
                + " 0.5}", "{density: 0.5, weight: 1}"), "parameters: {lambda: 0.9}\n"));
        c.put("breadcrumbs", config("breadcrumbs", true, List.of("{density: 0.8, gamma: 0.05, weight: 1.0}",
                "{density: 0.9, gamma: 0.01, weight: 1.0}", "{weight: 0.5}"), "random_seed: 2\n"));
        c.put("breadcrumbs_ties", config("breadcrumbs_ties", true, List.of("{density: 0.8, gamma: 0.05, weight: 1}",
                "{density: 0.9, weight: 1}", "{weight: 0.5}"), "parameters: {gamma: 0.02}\n"));
        c.put("della", config("della", true, List.of("{density: 0.7, epsilon: 0.1, weight: 1}",
                "{density: 0.5, weight: 1}", "{weight: 0.8}"), "parameters: {epsilon: 0.05, lambda: 1.1}\n"
                + "random_seed: 3\n"));
        c.put("della_linear", config("della_linear", true, List.of("{density: 0.7, weight: 1}",
                "{density: 0.5, epsilon: 0.2, weight: 1}", "{weight: 0.8}"), ""));
        c.put("slerp", config("slerp", true, java.util.Collections.singletonList(null),
                "parameters:\n  t:\n    - filter: self_attn\n      value: [0, 0.5, 1]\n    - value: 0.3\n"
                + "chat_template: chatml\n"));
        c.put("nuslerp", config("nuslerp", true, List.of("{weight: 0.4}", "{weight: 0.6}"),
                "parameters: {nuslerp_row_wise: true}\n"));
        c.put("nuslerp-without-base", config("nuslerp", false, List.of("{weight: 1}", "{weight: 3}"), ""));
        c.put("model_stock", config("model_stock", true, none3, "parameters: {filter_wise: false}\n"
                + "tokenizer_source: base\n"));
        return c;
    }

    @Test
    void everyMethodsConfigAsRunRunsAgainToTheSameFiles() throws Exception {
        Set<String> methods = new TreeSet<>();
        for (Map.Entry<String, String> e : cases().entrySet()) {
            String name = e.getKey();
            Path cfg = Files.writeString(tmp.resolve(name + ".yml"), e.getValue());
            Path first = tmp.resolve("out/" + name);
            Wudi.ok("mergekit-yaml", cfg.toString(), first.toString(), "-q");
            Path written = first.resolve("mergekit_config.yml");
            Path second = tmp.resolve("again/" + name);
            Wudi.ok("mergekit-yaml", written.toString(), second.toString(), "-q");
            Map<String, byte[]> a = files(first);
            Map<String, byte[]> b = files(second);
            assertEquals(a.keySet(), b.keySet(), name + ": the same files");
            for (String f : a.keySet()) {
                assertArrayEquals(a.get(f), b.get(f), name + ": " + f + " is the same, byte for byte");
            }
            assertTrue(a.keySet().stream().anyMatch(f -> f.endsWith(".safetensors")), name);
            readsAsMergekitDoes(name, written);
            methods.add(MergeMethods.byName(name.replaceAll("-.*", "")).name());
            if (name.startsWith("wudi")) {
                methods.add("wudi-" + name.substring(5));
            }
        }
        List<String> every = new ArrayList<>();
        for (MergeMethod m : MergeMethods.all()) {
            if (m.getClass().getProtectionDomain().getCodeSource().equals(
                    MergeMethod.class.getProtectionDomain().getCodeSource())) {
                every.add(m.name());                       // this project's, not a test's added method
            }
        }
        every.addAll(List.of("wudi-adam", "wudi-exact", "wudi-flow", "wudi-spectral"));
        assertEquals(new TreeSet<>(every), methods, "every method, and wudi with every solver");
    }

    /** What the written files say, beyond running again: the values as given and the defaults written out. */
    @Test
    void theConfigAsRunKeepsTheGivenValuesAndWritesTheDefaults() throws Exception {
        Map<String, String> c = cases();
        Map<String, String> texts = new LinkedHashMap<>();
        for (String name : List.of("wudi-adam", "wudi-spectral", "ties", "task_arithmetic", "model_stock", "linear",
                "slerp")) {
            Path cfg = Files.writeString(tmp.resolve("said-" + name + ".yml"), c.get(name));
            Path out = tmp.resolve("said/" + name);
            Wudi.ok("mergekit-yaml", cfg.toString(), out.toString(), "-q");
            texts.put(name, Files.readString(out.resolve("mergekit_config.yml")));
        }
        String adam = texts.get("wudi-adam");
        for (String line : List.of("  solver: adam\n", "  learning_rate: 1.0e-4\n", "  iterations: 5\n",
                "  beta1: 0.85\n", "  beta2: 0.999\n", "  epsilon: 1.0e-8\n", "  rest: base\n")) {
            assertTrue(adam.contains(line), "'" + line.strip() + "' in\n" + adam);
        }
        assertFalse(adam.contains("null") || adam.contains("lr:") || adam.contains("iters:") || adam.contains("9999"),
                "no null, no alias beside its name, no float32 noise:\n" + adam);
        assertFalse(adam.contains("source:"), "no source path: a config run from the output writes the same file");
        String spectral = texts.get("wudi-spectral");
        assertTrue(spectral.contains("  filter: tikhonov\n  filter_param: 0.05\n  rank: 4\n") && spectral.contains(
                "  exclude_regex: V_PROJ\n  rest: average\n"), spectral);
        assertFalse(spectral.contains("learning_rate") || spectral.contains("iterations"), "Adam's settings do not"
                + " apply to the spectral solver:\n" + spectral);
        String ties = texts.get("ties");
        assertTrue(ties.contains("    density:\n    - 1\n    - 0.7\n    - 0.2\n    weight: 1.0\n"), ties);
        assertTrue(ties.contains("    density: .3\n") == false && ties.contains("    density: 0.3\n")
                && ties.contains("    weight: 1.0\n"), ".3 and 1e0, which PyYAML reads as strings, as numbers:\n" + ties);
        assertTrue(ties.contains("  lambda: 1.0\n  normalize: true\n  rescale: false\n  density: 1.0\n"
                + "  int8_mask: true\n"), "the defaults, a given one in place, flags as flags:\n" + ties);
        assertTrue(ties.contains("dtype: float16\nout_dtype: float32\n"), ties);
        assertFalse(ties.contains("random_seed") || ties.contains("tokenizer_source") || ties.contains("chat_template"),
                "nothing the config leaves out and ties does not use:\n" + ties);
        String ta = texts.get("task_arithmetic");
        assertTrue(ta.contains("  lambda:\n  - filter: self_attn\n    value: 0.6\n  - value:\n    - 0.3\n    - 1.2\n"),
                ta);
        assertTrue(ta.contains("tokenizer_source: " + models.get(1) + "\n"), "tokenizer_source as given:\n" + ta);
        assertTrue(texts.get("model_stock").contains("tokenizer_source: base\n"), texts.get("model_stock"));
        String linear = texts.get("linear");
        assertFalse(linear.contains("base_model"), "no base given, none written:\n" + linear);
        assertTrue(linear.contains("dtype: bfloat16\nout_dtype: bfloat16\n"), linear);
        assertTrue(texts.get("slerp").contains("chat_template: chatml\n"), texts.get("slerp"));
    }

    /** A path relative to the config's folder (not the working directory) is written as the path it resolved to. */
    @Test
    void pathsRelativeToTheConfigAreWrittenResolved() throws Exception {
        Path dir = tmp.resolve("in");
        Path cfg = Files.writeString(dir.resolve("relative.yml"), "merge_method: task_arithmetic\nbase_model: base\n"
                + "models:\n  - model: ft1\n    parameters: {weight: 0.5}\n  - model: ft2\n"
                + "    parameters: {weight: 0.5}\ntokenizer_source: ft2\n");
        Path first = tmp.resolve("out/relative");
        Wudi.ok("mergekit-yaml", cfg.toString(), first.toString(), "-q");
        String text = Files.readString(first.resolve("mergekit_config.yml"));
        assertTrue(text.contains("base_model: " + base.toAbsolutePath().normalize() + "\n") && text.contains(
                "tokenizer_source: " + models.get(1).toAbsolutePath().normalize() + "\n"), text);
        Path second = tmp.resolve("again/relative");
        Wudi.ok("mergekit-yaml", first.resolve("mergekit_config.yml").toString(), second.toString(), "-q");
        assertArrayEquals(Files.readAllBytes(first.resolve("model.safetensors")),
                Files.readAllBytes(second.resolve("model.safetensors")));
        assertEquals(text, Files.readString(second.resolve("mergekit_config.yml")));
    }

    /** mergekit's reading of the file: its keys only, no nulls, numbers PyYAML reads as numbers. */
    private static void readsAsMergekitDoes(String name, Path file) throws Exception {
        LocatedYaml doc = LocatedYaml.read(file);
        for (Iterator<String> it = doc.root().fieldNames(); it.hasNext(); ) {
            String k = it.next();
            assertTrue(MERGEKIT_KEYS.contains(k), name + ": key " + k + " is mergekit's");
        }
        walk(name, doc, "", doc.root());
    }

    private static void walk(String name, LocatedYaml doc, String pointer, JsonNode n) {
        assertFalse(n.isNull(), name + ": " + pointer + " is null (mergekit's keys are optional: leave it out)");
        if (n.isNumber()) {
            String t = doc.numberText(pointer);
            assertTrue(t != null && PYYAML_NUMBER.matcher(t).matches(), name + ": " + pointer + " = " + t
                    + " is a number PyYAML reads as one");
            assertTrue(t.replaceAll("[^0-9]", "").length() < 8, name + ": " + pointer + " = " + t + " (float32 noise)");
        } else if (n.isArray()) {
            for (int i = 0; i < n.size(); i++) {
                walk(name, doc, pointer + "/" + i, n.get(i));
            }
        } else if (n.isObject()) {
            n.fieldNames().forEachRemaining(k -> walk(name, doc, pointer + "/" + k, n.get(k)));
        }
    }

    /** Every file of an output but its card (whose reproduce command names the config run). */
    private static Map<String, byte[]> files(Path out) throws Exception {
        Map<String, byte[]> m = new java.util.TreeMap<>();
        try (Stream<Path> s = Files.walk(out)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(p) && !p.getFileName().toString().equals("README.md")) {
                    m.put(out.relativize(p).toString(), Files.readAllBytes(p));
                }
            }
        }
        return m;
    }
}
