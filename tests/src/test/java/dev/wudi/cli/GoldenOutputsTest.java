package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bytes of every output kind, pinned: a matrix of methods, solvers, layouts (nn.Linear, Conv1D), dtypes, folder
 * outputs with shards, heads and grown vocabularies, LoRA adapters in and out, and mergekit configs, each run on
 * small seeded inputs and hashed file by file against {@code golden/outputs.sha256}. A change to the engine's code
 * that is meant to leave outputs alone (a restructuring) must keep every hash; a change meant to alter an output
 * regenerates the file ({@code -Dwudi.golden.update=true}) and the diff of that file shows which outputs moved.
 * wudi-spark's outputs are byte-identical to these commands' (SparkMergeTest), so they are pinned through them.
 *
 * <p>Determinism across machines: all cases run in one child JVM with OPENBLAS_CORETYPE=Haswell and one thread,
 * so OpenBLAS uses the same kernels on every x86-64 CPU with AVX2 (AVX-512 machines included); the element-wise
 * methods are plain Java. The model card (README.md) quotes the command and is pinned too: every path is relative
 * to the run's working directory.
 */
class GoldenOutputsTest {

    private static final Path GOLDEN = Path.of("src/test/resources/golden/outputs.sha256");

    @TempDir
    Path work;

    // ---------------------------------------------------------------- fixtures (seeded)

    private static Tensor gaussian(long seed, String name, double std, long... shape) {
        Random r = new Random(seed * 1_000_003L + name.hashCode());
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (std * r.nextGaussian());
        }
        return new Tensor(v, shape);
    }

    /** A GPT-2 with the real names, config and Conv1D layout ([in, out]) at width 32: small enough to solve fast. */
    static Model tinyGpt2(long seed) {
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        int d = 32;
        t.put("wte.weight", gaussian(seed, "wte", 0.02, 100, d));
        t.put("wpe.weight", gaussian(seed, "wpe", 0.01, 16, d));
        for (int i = 0; i < 2; i++) {
            String h = "h." + i + ".";
            t.put(h + "ln_1.weight", gaussian(seed, h + "ln_1", 0.1, d).plus(ones(d)));
            t.put(h + "ln_1.bias", gaussian(seed, h + "ln_1.b", 0.01, d));
            t.put(h + "attn.c_attn.weight", gaussian(seed, h + "c_attn", 0.02, d, 3L * d));
            t.put(h + "attn.c_attn.bias", gaussian(seed, h + "c_attn.b", 0.01, 3L * d));
            t.put(h + "attn.c_proj.weight", gaussian(seed, h + "c_proj", 0.02, d, d));
            t.put(h + "attn.c_proj.bias", gaussian(seed, h + "c_proj.b", 0.01, d));
            t.put(h + "ln_2.weight", gaussian(seed, h + "ln_2", 0.1, d).plus(ones(d)));
            t.put(h + "ln_2.bias", gaussian(seed, h + "ln_2.b", 0.01, d));
            t.put(h + "mlp.c_fc.weight", gaussian(seed, h + "c_fc", 0.02, d, 4L * d));
            t.put(h + "mlp.c_fc.bias", gaussian(seed, h + "c_fc.b", 0.01, 4L * d));
            t.put(h + "mlp.c_proj.weight", gaussian(seed, h + "mlp.c_proj", 0.02, 4L * d, d));
            t.put(h + "mlp.c_proj.bias", gaussian(seed, h + "mlp.c_proj.b", 0.01, d));
        }
        t.put("ln_f.weight", gaussian(seed, "ln_f", 0.1, d).plus(ones(d)));
        t.put("ln_f.bias", gaussian(seed, "ln_f.b", 0.01, d));
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", "gpt2");
        c.putArray("architectures").add("GPT2LMHeadModel");
        c.put("n_embd", d);
        c.put("n_layer", 2);
        c.put("n_head", 4);
        c.put("n_positions", 16);
        c.put("n_ctx", 16);
        c.put("vocab_size", 100);
        c.put("tie_word_embeddings", true);
        return new Model(c, t);
    }

    private static Tensor ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return new Tensor(v, new long[] {n});
    }

    /** base + seeded noise of the given size on every tensor whose name contains one of the parts. */
    static Model fineTune(Model base, long seed, double std, String... parts) {
        Map<String, Tensor> deltas = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : base.tensors().entrySet()) {
            for (String p : parts) {
                if (e.getKey().contains(p)) {
                    deltas.put(e.getKey(), gaussian(seed, e.getKey() + "#ft", std, e.getValue().shape()));
                    break;
                }
            }
        }
        return HubModels.fineTune(base, deltas);
    }

    /** A PEFT LoRA adapter on the tiny GPT-2's c_attn (Conv1D, so fan_in_fan_out), as PEFT saves one. */
    private static void adapter(Path dir, long seed, int r, double alpha) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"task_type\": \"CAUSAL_LM\","
                + " \"base_model_name_or_path\": \"gpt2\", \"r\": " + r + ", \"lora_alpha\": " + alpha
                + ", \"target_modules\": [\"c_attn\"], \"fan_in_fan_out\": true, \"lora_dropout\": 0.0,"
                + " \"bias\": \"none\"}\n");
        Map<String, Tensor> f = new LinkedHashMap<>();
        for (int i = 0; i < 2; i++) {
            String m = "base_model.model.h." + i + ".attn.c_attn.";
            f.put(m + "lora_A.weight", gaussian(seed, m + "A", 0.1, r, 32));
            f.put(m + "lora_B.weight", gaussian(seed, m + "B", 0.02, 96, r));
        }
        HubFolder.writeSafetensors(dir.resolve("adapter_model.safetensors"), f, DType.F32, Map.of());
    }

    private void fixtures() throws IOException {
        Files.createDirectories(work.resolve("f"));
        Files.createDirectories(work.resolve("f16"));
        Files.createDirectories(work.resolve("o"));
        String[] names = {"base", "a", "b", "c"};
        for (int i = 0; i < names.length; i++) {
            TinyModels.writeFile(work.resolve("f/" + names[i] + ".safetensors"), TinyModels.layout(), DType.F32, i + 1,
                    1);
            TinyModels.writeFile(work.resolve("f16/" + names[i] + ".safetensors"), TinyModels.layout(), DType.F16,
                    i + 1, 1);
        }
        Model llama = HubModels.llama(2, 32, 64, 4, 2, 100, false, 5);
        HubFolder.write(work.resolve("llama/base"), llama, DType.F32);
        HubFolder.write(work.resolve("llama/ft1"), HubModels.fineTune(llama, "proj", 4, 0.01, 6), DType.F32);
        HubFolder.write(work.resolve("llama/ft2"), HubModels.fineTune(llama, "proj", 4, 0.01, 7), DType.F32);
        HubFolder.write(work.resolve("llama/ft-vocab"), HubModels.withExtraVocabRows(
                HubModels.fineTune(llama, "proj", 4, 0.01, 8), 3, 9), DType.F32);
        Model bert = HubModels.bert(1, 32, 64, 100, 10);
        HubFolder.write(work.resolve("bert/base"), bert, DType.F32);
        HubFolder.write(work.resolve("bert/ft1"), HubModels.withClassifier(HubModels.fineTune(bert, "dense", 4, 0.01,
                11), "classifier", 2, 12), DType.F32);
        HubFolder.write(work.resolve("bert/ft2"), HubModels.withClassifier(HubModels.fineTune(bert, "dense", 4, 0.01,
                13), "classifier", 5, 14), DType.F32);
        Model gpt2 = tinyGpt2(20);
        HubFolder.write(work.resolve("gpt2/base"), gpt2, DType.F32);
        HubFolder.write(work.resolve("gpt2/ft1"), fineTune(gpt2, 21, 0.005, "attn", "mlp", "ln_"), DType.F32);
        HubFolder.write(work.resolve("gpt2/ft2"), fineTune(gpt2, 22, 0.005, "attn", "mlp"), DType.F32);
        adapter(work.resolve("lora/a1"), 30, 4, 8);
        adapter(work.resolve("lora/a2"), 31, 2, 16);
        yaml("ties-gradient", "merge_method: ties\nbase_model: llama/base\nmodels:\n  - model: llama/ft1\n"
                + "    parameters: {density: [1, 0.7, 0.2], weight: 1.0}\n  - model: llama/ft2\n"
                + "    parameters: {density: 0.5, weight: [0.5, 1.0]}\nparameters:\n  normalize: true\n");
        yaml("dare-ties", "merge_method: dare_ties\nbase_model: llama/base\nrandom_seed: 7\nmodels:\n"
                + "  - model: llama/ft1\n    parameters: {density: 0.6, weight: 0.7}\n  - model: llama/ft2\n"
                + "    parameters: {density: 0.4, weight: 0.5}\n");
        yaml("linear", "merge_method: linear\nmodels:\n  - model: llama/ft1\n    parameters: {weight: 0.3}\n"
                + "  - model: llama/ft2\n    parameters: {weight: 0.7}\ndtype: bfloat16\n");
        yaml("task-arithmetic", "merge_method: task_arithmetic\nbase_model: llama/base\nparameters: {lambda: 0.6}\n"
                + "models:\n  - model: llama/ft1\n    parameters: {weight: 1.0}\n  - model: llama/ft2\n"
                + "    parameters: {weight: 0.5}\n");
        yaml("wudi", "merge_method: wudi\nbase_model: gpt2/base\nmodels:\n  - model: gpt2/ft1\n  - model: gpt2/ft2\n"
                + "parameters: {iterations: 20}\n");
        yaml("nuslerp", "merge_method: nuslerp\nbase_model: llama/base\nmodels:\n  - model: llama/ft1\n"
                + "    parameters: {weight: 0.4}\n  - model: llama/ft2\n    parameters: {weight: 0.6}\n");
        yaml("breadcrumbs", "merge_method: breadcrumbs\nbase_model: llama/base\nmodels:\n  - model: llama/ft1\n"
                + "    parameters: {density: 0.8, gamma: 0.05, weight: 1.0}\n  - model: llama/ft2\n"
                + "    parameters: {density: 0.9, gamma: 0.01, weight: 1.0}\n");
    }

    private void yaml(String name, String text) throws IOException {
        Files.createDirectories(work.resolve("y"));
        Files.writeString(work.resolve("y/" + name + ".yml"), text);
    }

    // ---------------------------------------------------------------- the matrix

    private static final String F = "--base\tf/base.safetensors\t--model\tf/a.safetensors\t--model\tf/b.safetensors"
            + "\t--model\tf/c.safetensors";

    private static List<String> cases() {
        List<String> c = new ArrayList<>();
        String q = "\t-q\t--threads\t1";
        // files: every method and solver
        c.add("wudi\tmerge\t" + F + "\t--iters\t20\t--out\to/wudi.safetensors" + q);
        c.add("wudi-lr-auto\tmerge\t" + F + "\t--lr\tauto\t--iters\t20\t--out\to/wudi-lr-auto.safetensors" + q);
        c.add("wudi-lr-1e-3\tmerge\t" + F + "\t--lr\t1e-3\t--iters\t20\t--out\to/wudi-lr-1e-3.safetensors" + q);
        c.add("wudi-exact\tmerge\t" + F + "\t--solver\texact\t--out\to/wudi-exact.safetensors" + q);
        c.add("wudi-exact-ridge\tmerge\t" + F + "\t--solver\texact\t--ridge\t0.01\t--out\to/wudi-exact-ridge.safetensors"
                + q);
        c.add("wudi-flow\tmerge\t" + F + "\t--solver\tflow\t--out\to/wudi-flow.safetensors" + q);
        c.add("wudi-spectral\tmerge\t" + F + "\t--solver\tspectral\t--out\to/wudi-spectral.safetensors" + q);
        c.add("wudi-spectral-tikhonov\tmerge\t" + F + "\t--solver\tspectral\t--filter\ttikhonov\t--filter-param\t0.05"
                + "\t--rank\t4\t--out\to/wudi-spectral-tikhonov.safetensors" + q);
        c.add("wudi-scale\tmerge\t" + F + "\t--iters\t20\t--scale\t0.5\t--out\to/wudi-scale.safetensors" + q);
        c.add("wudi-rest-average\tmerge\t" + F + "\t--iters\t20\t--rest\taverage\t--out\to/wudi-rest-average.safetensors"
                + q);
        c.add("wudi-rest-ta\tmerge\t" + F + "\t--iters\t20\t--rest\ttask-arithmetic\t--out\to/wudi-rest-ta.safetensors"
                + q);
        c.add("wudi-include\tmerge\t" + F + "\t--iters\t20\t--include\tq_proj|embed\t--exclude\tv_proj"
                + "\t--out\to/wudi-include.safetensors" + q);
        c.add("wudi-bf16\tmerge\t" + F + "\t--iters\t20\t--dtype\tbf16\t--out\to/wudi-bf16.safetensors" + q);
        c.add("wudi-f16-inputs\tmerge\t--base\tf16/base.safetensors\t--model\tf16/a.safetensors\t--model"
                + "\tf16/b.safetensors\t--iters\t20\t--out\to/wudi-f16-inputs.safetensors" + q);
        for (String m : new String[] {"task-arithmetic", "average", "model-stock"}) {
            c.add(m + "\tmerge\t" + F + "\t--method\t" + m + "\t--out\to/" + m + ".safetensors" + q);
        }
        c.add("ties\tmerge\t" + F + "\t--method\tties\t--density\t0.5\t--interference-loss\ton"
                + "\t--out\to/ties.safetensors" + q);
        c.add("task-arithmetic-f16\tmerge\t" + F + "\t--method\ttask-arithmetic\t--scale\t0.7\t--dtype\tf16"
                + "\t--out\to/task-arithmetic-f16.safetensors" + q);
        for (String m : new String[] {"dare-linear", "dare-ties", "della", "della-linear"}) {
            c.add(m + "\tmerge\t" + F + "\t--method\t" + m + "\t--density\t0.7\t--seed\t3\t--out\to/" + m
                    + ".safetensors" + q);
        }
        for (String m : new String[] {"breadcrumbs", "breadcrumbs-ties"}) {
            c.add(m + "\tmerge\t" + F + "\t--method\t" + m + "\t--density\t0.8\t--out\to/" + m + ".safetensors" + q);
        }
        c.add("slerp\tmerge\t--base\tf/base.safetensors\t--model\tf/a.safetensors\t--method\tslerp\t--t\t0.3"
                + "\t--out\to/slerp.safetensors" + q);
        // folders: shards, Llama, vocabularies, heads, Conv1D
        c.add("llama-wudi\tmerge\t--base\tllama/base\t--model\tllama/ft1\t--model\tllama/ft2\t--iters\t20"
                + "\t--shard-size\t20KB\t--out\to/llama-wudi" + q);
        c.add("llama-spectral\tmerge\t--base\tllama/base\t--model\tllama/ft1\t--model\tllama/ft2\t--solver\tspectral"
                + "\t--out\to/llama-spectral" + q);
        c.add("llama-vocab-extend\tmerge\t--base\tllama/base\t--model\tllama/ft1\t--model\tllama/ft-vocab"
                + "\t--method\ttask-arithmetic\t--out\to/llama-vocab-extend" + q);
        c.add("llama-vocab-base\tmerge\t--base\tllama/base\t--model\tllama/ft1\t--model\tllama/ft-vocab"
                + "\t--vocab\tbase\t--iters\t20\t--out\to/llama-vocab-base" + q);
        for (String h : new String[] {"save", "from:2", "drop"}) {
            c.add("bert-heads-" + h.replace(':', '-') + "\tmerge\t--base\tbert/base\t--model\tbert/ft1\t--model"
                    + "\tbert/ft2\t--iters\t20\t--heads\t" + h + "\t--out\to/bert-heads-" + h.replace(':', '-') + q);
        }
        c.add("gpt2-wudi\tmerge\t--base\tgpt2/base\t--model\tgpt2/ft1\t--model\tgpt2/ft2\t--iters\t20"
                + "\t--out\to/gpt2-wudi" + q);
        c.add("gpt2-ties\tmerge\t--base\tgpt2/base\t--model\tgpt2/ft1\t--model\tgpt2/ft2\t--method\tties"
                + "\t--out\to/gpt2-ties" + q);
        // the default merge (no solver option): spectral, --scale auto, the rest averaged; on full fine-tunes and on
        // LoRA adapters (which take the models' average)
        c.add("gpt2-default\tmerge\t--base\tgpt2/base\t--model\tgpt2/ft1\t--model\tgpt2/ft2\t--out\to/gpt2-default"
                + q);
        c.add("lora-default\tmerge\t--base\tgpt2/base\t--model\tlora/a1\t--model\tlora/a2\t--out\to/lora-default"
                + q);
        // LoRA adapters in and out
        c.add("lora-wudi\tmerge\t--base\tgpt2/base\t--model\tlora/a1\t--model\tlora/a2\t--iters\t20"
                + "\t--out\to/lora-wudi" + q);
        c.add("lora-spectral\tmerge\t--base\tgpt2/base\t--model\tlora/a1\t--model\tlora/a2\t--solver\tspectral"
                + "\t--out\to/lora-spectral" + q);
        c.add("lora-mixed\tmerge\t--base\tgpt2/base\t--model\tlora/a1\t--model\tgpt2/ft1\t--iters\t20"
                + "\t--out\to/lora-mixed" + q);
        c.add("lora-as-adapter-spectral\tmerge\t--base\tgpt2/base\t--model\tlora/a1\t--model\tlora/a2"
                + "\t--solver\tspectral\t--as-adapter\t--out\to/lora-as-adapter-spectral" + q);
        c.add("lora-as-adapter-adam\tmerge\t--base\tgpt2/base\t--model\tlora/a1\t--model\tlora/a2\t--iters\t20"
                + "\t--as-adapter\t--out\to/lora-as-adapter-adam" + q);
        c.add("lora-as-adapter-nobase\tmerge\t--model\tlora/a1\t--model\tlora/a2\t--solver\texact\t--as-adapter"
                + "\t--out\to/lora-as-adapter-nobase" + q);
        // mergekit configs
        for (String y : new String[] {"ties-gradient", "dare-ties", "task-arithmetic", "wudi", "nuslerp",
            "breadcrumbs"}) {
            c.add("yaml-" + y + "\tmerge\t--config\ty/" + y + ".yml\t--out\to/yaml-" + y + q);
        }
        c.add("yaml-linear\tmergekit-yaml\ty/linear.yml\to/yaml-linear" + q);
        return c;
    }

    // ---------------------------------------------------------------- running and hashing

    private Map<String, String> runAll() throws Exception {
        Path list = work.resolve("cases.txt");
        Files.write(list, cases(), StandardCharsets.UTF_8);
        Cli.Result r = Cli.run(GoldenRunner.class.getName(), Map.of("OPENBLAS_CORETYPE", "Haswell"), List.of(),
                List.of("-Xmx1g"), work, list.toString());
        assertEquals(0, r.exit(), r.toString());
        for (String line : r.out().lines().toList()) {
            assertTrue(line.matches("\\S+ 0"), "every case merges: " + line);
        }
        assertEquals(cases().size(), r.out().lines().count(), r.toString());
        Map<String, String> hashes = new TreeMap<>();
        try (Stream<Path> s = Files.walk(work.resolve("o"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(p)) {
                    hashes.put(work.resolve("o").relativize(p).toString(), HexFormat.of().formatHex(
                            MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
                }
            }
        }
        return hashes;
    }

    /** Whether this CPU runs OpenBLAS's Haswell kernels (AVX2 and FMA), with which the hashes were made. */
    private static boolean avx2() throws IOException {
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (!Files.isReadable(cpuinfo)) {
            return false;
        }
        String flags = Files.readAllLines(cpuinfo).stream().filter(l -> l.startsWith("flags")).findFirst().orElse("");
        return flags.contains(" avx2") && flags.contains(" fma");
    }

    @Test
    void everyOutputIsByteIdenticalToTheGoldenOne() throws Exception {
        assumeTrue(avx2(), "the golden hashes come from OpenBLAS's Haswell kernels, which need AVX2 and FMA (read"
                + " from /proc/cpuinfo); this CPU lacks them");
        fixtures();
        Map<String, String> now = runAll();
        List<String> lines = new ArrayList<>();
        now.forEach((f, h) -> lines.add(h + "  " + f));
        if (Boolean.getBoolean("wudi.golden.update")) {
            Files.createDirectories(GOLDEN.getParent());
            Files.write(GOLDEN, lines, StandardCharsets.UTF_8);
            return;
        }
        assertTrue(Files.exists(GOLDEN), GOLDEN + " is missing: run this test with -Dwudi.golden.update=true");
        Map<String, String> golden = new TreeMap<>();
        for (String l : Files.readAllLines(GOLDEN, StandardCharsets.UTF_8)) {
            if (!l.isBlank()) {
                golden.put(l.substring(66), l.substring(0, 64));
            }
        }
        List<String> diff = new ArrayList<>();
        for (String f : golden.keySet()) {
            if (!now.containsKey(f)) {
                diff.add("missing now: " + f);
            } else if (!now.get(f).equals(golden.get(f))) {
                diff.add("changed: " + f);
            }
        }
        for (String f : now.keySet()) {
            if (!golden.containsKey(f)) {
                diff.add("new: " + f);
            }
        }
        assertTrue(diff.isEmpty(), diff.size() + " of " + golden.size() + " output files differ from " + GOLDEN
                + " (an intended change regenerates it with -Dwudi.golden.update=true):\n  "
                + String.join("\n  ", diff));
    }
}
