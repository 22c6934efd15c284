package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: exit codes, one-line errors, output layouts. */
class CliTest {

    @TempDir
    Path tmp;

    private static void assertNoStackTrace(Cli.Result r) {
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in thread"), r.toString());
    }

    private Path[] files(DType dtype) throws IOException {
        Path base = tmp.resolve("base.safetensors");
        Path a = tmp.resolve("a.safetensors");
        Path b = tmp.resolve("b.safetensors");
        TinyModels.writeFile(base, TinyModels.layout(), dtype, 1, 1);
        TinyModels.writeFile(a, TinyModels.layout(), dtype, 2, 1);
        TinyModels.writeFile(b, TinyModels.layout(), dtype, 3, 1);
        return new Path[] {base, a, b};
    }

    @Test
    void noCommandIsAUsageError() throws Exception {
        Cli.Result r = Cli.run();
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--help"), r.toString());
    }

    @Test
    void unknownOptionAndMissingRequiredAreUsageErrors() throws Exception {
        assertEquals(2, Cli.run("merge", "--bogus").exit());
        Cli.Result r = Cli.run("merge", "--base", "x.safetensors", "--model", "y.safetensors");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--out"), r.toString());
    }

    @Test
    void badValuesAreUsageErrors() throws Exception {
        Path[] f = files(DType.F32);
        String[] common = {"merge", "--base", f[0].toString(), "--model", f[1].toString(), "--out",
                tmp.resolve("o.safetensors").toString()};
        Cli.Result method = Cli.run(concat(common, "--method", "magic"));
        assertEquals(2, method.exit(), method.toString());
        assertTrue(method.err().contains("magic") && method.err().contains("ties"), method.toString());
        Cli.Result regex = Cli.run(concat(common, "--include", "("));
        assertEquals(2, regex.exit(), regex.toString());
        assertTrue(regex.err().contains("regular expression"), regex.toString());
        assertEquals(2, Cli.run(concat(common, "--lr", "-1")).exit());
        assertEquals(2, Cli.run(concat(common, "--dtype", "int8")).exit());
        assertEquals(2, Cli.run(concat(common, "--rest", "nothing")).exit());
        assertEquals(2, Cli.run(concat(common, "--shard-size", "lots")).exit());
        assertFalse(Files.exists(tmp.resolve("o.safetensors")));
    }

    /** bench step chooses the Adam pass it times, says which one ran, and refuses a name it does not know. */
    @Test
    void benchStepTimesTheChosenAdamPass() throws Exception {
        Cli.Result bad = Cli.run("bench", "step", "--adam-pass", "fast");
        assertEquals(2, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("--adam-pass must be auto, native or java"), bad.toString());
        Cli.Result java = Cli.run("bench", "step", "--adam-pass", "java", "--steps", "3", "--literal-steps", "1",
                "--tasks", "2", "--shapes", "24x16");
        assertEquals(0, java.exit(), java.toString());
        assertTrue(java.out().contains("Adam pass: Java"), java.toString());
        assertTrue(java.out().contains("| [24, 16] |"), java.toString());
        // at LLM shapes the literal formula takes minutes a step: --literal-steps 0 leaves it out
        Cli.Result noLiteral = Cli.run("bench", "step", "--steps", "3", "--literal-steps", "0", "--tasks", "2",
                "--shapes", "24x16");
        assertEquals(0, noLiteral.exit(), noLiteral.toString());
        String row = noLiteral.out().lines().filter(l -> l.startsWith("| [24, 16] |")).findFirst().orElseThrow();
        assertTrue(row.endsWith("| - | - |"), row);
        assertFalse(noLiteral.out().contains("**total**"), "no literal totals without the literal formula");
    }

    @Test
    void missingInputNamesTheFile() throws Exception {
        Path[] f = files(DType.F32);
        Path missing = tmp.resolve("nope.safetensors");
        Cli.Result r = Cli.run("merge", "--base", f[0].toString(), "--model", missing.toString(), "--out",
                tmp.resolve("o.safetensors").toString());
        assertEquals(2, r.exit(), "a missing input is a usage mistake: " + r);
        assertTrue(r.err().contains(missing.toString()), r.toString());
        assertNoStackTrace(r);
        assertFalse(Files.exists(tmp.resolve("o.safetensors")));
    }

    @Test
    void corruptInputNamesTheFile() throws Exception {
        Path[] f = files(DType.F32);
        Path bad = tmp.resolve("bad.safetensors");
        Files.write(bad, new byte[] {(byte) 0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
        Cli.Result r = Cli.run("merge", "--base", f[0].toString(), "--model", bad.toString(), "--out",
                tmp.resolve("o.safetensors").toString());
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains(bad.toString()), r.toString());
        assertNoStackTrace(r);
    }

    @Test
    void mismatchedShapesNameBothFilesAndTheTensor() throws Exception {
        Path[] f = files(DType.F32);
        Map<String, long[]> other = new LinkedHashMap<>(TinyModels.layout());
        other.put("model.layers.0.mlp.up_proj.weight", new long[] {41, 16});
        Path odd = tmp.resolve("odd.safetensors");
        TinyModels.writeFile(odd, other, DType.F32, 4, 1);
        Cli.Result r = Cli.run("merge", "--base", f[0].toString(), "--model", f[1].toString(), "--model",
                odd.toString(), "--out", tmp.resolve("o.safetensors").toString());
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("model.layers.0.mlp.up_proj.weight") && r.err().contains(f[0].toString())
                && r.err().contains(odd.toString()) && r.err().contains("[41, 16]"), r.toString());
        assertNoStackTrace(r);
        assertFalse(Files.exists(tmp.resolve("o.safetensors")));
    }

    @Test
    void missingTensorIsListedByName() throws Exception {
        Path[] f = files(DType.F32);
        Map<String, long[]> fewer = new LinkedHashMap<>(TinyModels.layout());
        fewer.remove("model.norm.weight");
        Path odd = tmp.resolve("fewer.safetensors");
        TinyModels.writeFile(odd, fewer, DType.F32, 4, 1);
        Cli.Result r = Cli.run("merge", "--base", f[0].toString(), "--model", odd.toString(), "--out",
                tmp.resolve("o.safetensors").toString());
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("model.norm.weight") && r.err().contains(odd.toString()), r.toString());
    }

    @Test
    void mergesAFileWithReportAndRefusesToOverwriteWithoutForce() throws Exception {
        Path[] f = files(DType.BF16);
        Path out = tmp.resolve("merged.safetensors");
        Path report = tmp.resolve("report.json");
        String[] args = {"merge", "--base", f[0].toString(), "--model", f[1].toString(), "--model", f[2].toString(),
                "--out", out.toString(), "--report", report.toString(), "--iters", "20", "--lr", "1e-4"};
        Cli.Result r = Cli.run(args);
        assertEquals(0, r.exit(), r.toString());
        try (SafetensorsFile merged = SafetensorsFile.open(out); SafetensorsFile base = SafetensorsFile.open(f[0])) {
            assertEquals(base.tensors().size(), merged.tensors().size());
            assertEquals(DType.BF16, merged.tensor("model.layers.0.mlp.up_proj.weight").dtype(), "dtype follows the base");
            assertEquals(DType.I64, merged.tensor("model.position_ids").dtype());
        }
        JsonNode rep = new ObjectMapper().readTree(report.toFile());
        Map<String, String> methods = new LinkedHashMap<>();
        for (JsonNode t : rep.get("tensors")) {
            methods.put(t.get("name").asText(), t.get("method").asText());
            if (t.get("method").asText().equals("wudi")) {
                assertTrue(t.get("loss_after").asDouble() < t.get("loss_before").asDouble(), t.toString());
                assertTrue(t.get("seconds").asDouble() >= 0);
            }
        }
        // Default WUDI scope: 2-D weights, not the embedding, the lm_head, norms or int buffers.
        assertEquals("wudi", methods.get("model.layers.0.self_attn.q_proj.weight"));
        assertEquals("wudi", methods.get("model.layers.0.mlp.down_proj.weight"));
        assertEquals("base", methods.get("model.embed_tokens.weight"));
        assertEquals("base", methods.get("lm_head.weight"));
        assertEquals("base", methods.get("model.norm.weight"));
        assertEquals(4, rep.get("totals").get("optimised").asInt());

        Cli.Result again = Cli.run(args);
        assertEquals(2, again.exit(), "an existing --out without --force is a usage mistake: " + again);
        assertTrue(again.err().contains("--force"), again.toString());
        assertEquals(0, Cli.run(concat(args, "--force")).exit());
    }

    @Test
    void outputDtypeOption() throws Exception {
        Path[] f = files(DType.F32);
        Path out = tmp.resolve("bf16.safetensors");
        Cli.Result r = Cli.run("merge", "--method", "average", "--base", f[0].toString(), "--model", f[1].toString(),
                "--out", out.toString(), "--dtype", "bf16");
        assertEquals(0, r.exit(), r.toString());
        try (SafetensorsFile merged = SafetensorsFile.open(out)) {
            assertEquals(DType.BF16, merged.tensor("model.norm.weight").dtype());
            assertEquals(DType.I64, merged.tensor("model.position_ids").dtype(), "non-float tensors keep their dtype");
        }
    }

    @Test
    void shardedFolderInMirroredAsShardedFolderOut() throws Exception {
        Path base = TinyModels.writeFolder(tmp.resolve("base"), 1, 1, 3);
        Path a = TinyModels.writeFolder(tmp.resolve("a"), 2, 1, 2);
        Path b = TinyModels.writeFolder(tmp.resolve("b"), 3, 1, 1);
        Path out = tmp.resolve("merged");
        Cli.Result r = Cli.run("merge", "--base", base.toString(), "--model", a.toString(), "--model", b.toString(),
                "--out", out.toString(), "--shard-size", "2KB", "--iters", "5");
        assertEquals(0, r.exit(), r.toString());
        JsonNode index = new ObjectMapper().readTree(out.resolve("model.safetensors.index.json").toFile());
        long total = 0;
        int shards = 0;
        try (Stream<Path> s = Files.list(out)) {
            for (Path p : (Iterable<Path>) s.sorted()::iterator) {
                if (p.getFileName().toString().endsWith(".safetensors")) {
                    shards++;
                    assertTrue(Files.size(p) <= 2000 + 4000, p + " is " + Files.size(p) + " bytes");
                }
            }
        }
        assertTrue(shards > 1, "several shards for a 2KB limit");
        try (Checkpoint merged = Checkpoint.open(out); Checkpoint in = Checkpoint.open(base)) {
            assertEquals(in.names().size(), merged.names().size());
            for (Iterator<String> it = in.names().iterator(); it.hasNext(); ) {
                String n = it.next();
                total += merged.tensor(n).info().byteSize();
                assertTrue(index.get("weight_map").has(n), n + " in the index");
            }
        }
        assertEquals(total, index.get("metadata").get("total_size").asLong());
        for (String companion : List.of("config.json", "tokenizer.json", "generation_config.json")) {
            assertEquals(Files.readString(base.resolve(companion)), Files.readString(out.resolve(companion)));
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".wudi-")), "no partial output or journal left");
        }
        Cli.Result inspect = Cli.run("inspect", out.toString());
        assertEquals(0, inspect.exit(), inspect.toString());
        assertTrue(inspect.out().contains("model.layers.0.mlp.up_proj.weight"), inspect.toString());
    }

    @Test
    void folderWithOneShardStaysOneFile() throws Exception {
        Path base = TinyModels.writeFolder(tmp.resolve("base"), 1, 1, 1);
        Path a = TinyModels.writeFolder(tmp.resolve("a"), 2, 1, 1);
        Path out = tmp.resolve("merged");
        Cli.Result r = Cli.run("merge", "--method", "task-arithmetic", "--base", base.toString(), "--model",
                a.toString(), "--out", out.toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
        assertFalse(Files.exists(out.resolve("model.safetensors.index.json")));
        assertTrue(Files.isRegularFile(out.resolve("config.json")));
    }

    @Test
    void outCannotBeAnInput() throws Exception {
        Path[] f = files(DType.F32);
        byte[] before = Files.readAllBytes(f[1]);
        Cli.Result r = Cli.run("merge", "--base", f[0].toString(), "--model", f[1].toString(), "--out",
                f[1].toString(), "--force");
        assertEquals(2, r.exit(), "--out inside an input is a usage mistake: " + r);
        assertTrue(r.err().contains("overlaps the input"), r.toString());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(f[1])), "input untouched");
    }

    @Test
    void inspectListsTensorsAndMetadata() throws Exception {
        Path[] f = files(DType.F16);
        Cli.Result r = Cli.run("inspect", f[0].toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("model.embed_tokens.weight") && r.out().contains("F16")
                && r.out().contains("[50, 16]") && r.out().contains("format: pt"), r.toString());
        Cli.Result json = Cli.run("inspect", "--json", f[0].toString());
        assertEquals(9, new ObjectMapper().readTree(json.out()).get("tensors").size());
    }

    @Test
    void methodsAndHelpDescribeTheOptions() throws Exception {
        Cli.Result methods = Cli.run("methods");
        assertEquals(0, methods.exit());
        assertTrue(methods.out().contains("wudi (default)") && methods.out().contains("--density"), methods.toString());
        Cli.Result help = Cli.run("merge", "--help");
        assertEquals(0, help.exit());
        for (String opt : List.of("--include", "--exclude", "--rest", "--lr", "--iters", "--shard-size", "--dtype",
                "--threads", "--report")) {
            assertTrue(help.out().contains(opt), opt + " in --help");
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
