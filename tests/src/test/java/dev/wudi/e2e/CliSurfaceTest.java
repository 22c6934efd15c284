package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.bench.FixtureScorer;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
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
 * What the CLI says when a merge cannot do what the user thinks (exit 2, the option and why, nothing written), and
 * --scale with WUDI, through the CLI as a user runs it on tests/fixtures/digits6.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CliSurfaceTest {

    @TempDir
    static Path tmp;

    Path base;
    List<Path> models;

    @BeforeAll
    void fixture() throws Exception {
        FixtureScorer fx = FixtureScorer.open(Fixtures.digits6());
        base = fx.base();
        models = fx.models();
    }

    private String[] merge(Path out, List<Path> ms, String... more) {
        return Wudi.mergeArgs(base, ms, out, more);
    }

    private void refused(String name, List<Path> ms, String expected, String... more) {
        Path out = tmp.resolve(name + ".safetensors");
        Wudi.Result r = Wudi.run(merge(out, ms, more));
        assertEquals(2, r.exit(), name + ": " + r.err());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in\n" + r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        assertFalse(Files.exists(out), name + ": nothing written");
    }

    @Test
    void optionsThatDoNotApplyAreRefusedNamingThem() {
        refused("ties-lr", models, "--lr applies to --method wudi; the method here is ties", "--method", "ties", "--lr",
                "1e-4");
        refused("avg-density", models, "--density applies to ties, dare-linear, dare-ties, breadcrumbs, breadcrumbs-ties,"
                + " della, della-linear; the method here is average", "--method", "average",
                "--density", "0.5");
        refused("exact-iters", models, "--iters applies to --solver adam; --solver exact solves without Adam's steps",
                "--solver", "exact", "--iters", "50");
        refused("wudi-seed", models, "--seed applies to the random methods", "--seed", "3");
        refused("ta-t", models, "--t applies to slerp; the method here is task-arithmetic", "--method", "task-arithmetic", "--t", "0.5");
    }

    @Test
    void mergesThatCannotDoWhatTheUserThinksAreRefused() {
        refused("twice", List.of(models.get(0), models.get(1), models.get(0)), "--model " + models.get(0)
                + " is given twice");
        refused("include", models, "--include nothing_matches matches no tensor the method can take", "--include",
                "nothing_matches");
    }

    @Test
    void theSummarySaysWhatRestBaseKeptAlthoughTheFineTunesChangedIt() {
        Wudi.Result r = Wudi.ok(merge(tmp.resolve("kept.safetensors"), models, "--iters", "5"));
        assertTrue(r.err().contains("3 tensors kept the base although the fine-tunes changed them (enc.fc1.bias,"
                + " enc.fc2.bias, enc.fc3.bias) under --rest base: --rest average or --rest task-arithmetic merges"
                + " them"), r.err());
        Wudi.Result avg = Wudi.ok(merge(tmp.resolve("kept-avg.safetensors"), models,
                "--iters", "5", "--rest", "average"));
        assertFalse(avg.err().contains("kept the base although"), avg.err());
    }

    @Test
    void anOutputNamedLikeAFileForAFolderIsRefused() throws Exception {
        Path folder = Files.createDirectories(tmp.resolve("base-folder"));
        Files.copy(base, folder.resolve("model.safetensors"));
        Path out = tmp.resolve("merged.safetensors");
        Wudi.Result r = Wudi.run("merge", "--base", folder.toString(), "--model",
                models.get(0).toString(), "--model", models.get(1).toString(), "--out", out.toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("is named like a file, but the output is a folder"), r.err());
        assertFalse(Files.exists(out), "no directory named like a file");
    }

    @Test
    void aFolderOutputForAFileBaseIsRefusedNamingTheFileToGive() throws Exception {
        Path dir = tmp.resolve("out-dir");
        Path config = Files.writeString(tmp.resolve("slash.yml"), "merge_method: task_arithmetic\nbase_model: " + base
                + "\nmodels:\n  - model: " + models.get(0) + "\n    parameters: {weight: 0.5}\n  - model: "
                + models.get(1) + "\n    parameters: {weight: 0.5}\n");
        String[] merge = Wudi.mergeArgs(base, models, dir, "--iters", "5");
        merge[List.of(merge).indexOf("--out") + 1] = dir + "/";   // as typed: a Path would drop the slash
        for (String[] args : List.of(merge,
                new String[] {"mergekit-yaml", config.toString(), dir + "/"})) {
            Wudi.Result r = Wudi.run(args);
            assertEquals(2, r.exit(), r.err());
            assertTrue(r.err().contains("--out " + dir + "/ names a folder, but the base " + base
                    + " is a single file, so the merge is one .safetensors file; give its name, such as "
                    + dir.resolve("merged.safetensors")), r.err());
            assertFalse(Files.exists(dir), "no folder made");
        }
    }

    @Test
    void resumeOnAFinishedOutputSaysItIsComplete() {
        Path out = tmp.resolve("done.safetensors");
        Wudi.ok(merge(out, models, "--iters", "5"));
        Wudi.Result r = Wudi.ok(merge(out, models, "--iters", "5", "--resume"));
        assertTrue(r.err().contains("--resume: " + out + " is complete (no partial output is left); nothing to resume"),
                r.err());
    }

    @Test
    void progressJsonIsOneObjectPerLine() throws Exception {
        Wudi.Result r = Wudi.ok(merge(tmp.resolve("json.safetensors"), models, "--iters", "5",
                "--progress", "json"));
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        List<String> events = new ArrayList<>();
        for (String line : r.out().strip().split("\n")) {
            events.add(json.readTree(line).get("event").asText());   // every line is one JSON object
        }
        assertEquals("start", events.get(0));
        assertEquals("done", events.get(events.size() - 1));
        assertEquals(6, events.stream().filter("tensor_done"::equals).count(), "digits6 has six tensors");
        assertTrue(events.contains("step") && events.contains("info"), events.toString());
        assertFalse(r.err().contains("[1/3]"), "no human progress on stderr: " + r.err());
    }

    @Test
    void aBaselineReportsWudisLossOfItsMergeComparableWithWudis() throws Exception {
        Path tiesReport = tmp.resolve("ties-report.json");
        Wudi.Result ties = Wudi.ok(merge(tmp.resolve("ties-loss.safetensors"), models, "--method", "ties",
                "--report", tiesReport.toString()));
        assertTrue(ties.err().contains("3 to score with WUDI's interference loss")
                && ties.err().contains("[3/3] enc.fc3.weight ties loss ")
                && ties.err().contains("interference loss, summed over linear weights (WUDI's loss at the sum of task"
                        + " vectors, and of this merge): "), ties.err());
        Path wudiReport = tmp.resolve("wudi-report.json");
        Wudi.ok(merge(tmp.resolve("wudi-loss.safetensors"), models, "--iters", "5", "--report", wudiReport.toString()));
        JsonNode t = Wudi.json(tiesReport);
        JsonNode w = Wudi.json(wudiReport);
        assertEquals(0, t.get("totals").get("optimised").asInt(), "TIES optimises nothing");
        assertEquals(3, t.get("totals").get("scored").asInt());
        for (String name : List.of("enc.fc1.weight", "enc.fc2.weight", "enc.fc3.weight")) {
            double tiesBefore = Wudi.record(t, name).get("loss_before").asDouble();
            double wudiBefore = Wudi.record(w, name).get("loss_before").asDouble();
            // both at tau_m = sum tau_i from the same float32 Gram form: only the order of the float32 sums may differ
            assertEquals(wudiBefore, tiesBefore, 1e-5 * wudiBefore, name);
            assertTrue(Wudi.record(t, name).get("loss_after").asDouble() > 0, name);
        }
        assertTrue(Wudi.record(t, "enc.fc1.bias").get("loss_before").isNull(), "vectors are not scored");

        Wudi.Result off = Wudi.ok(merge(tmp.resolve("ties-off.safetensors"), models, "--method", "ties",
                "--interference-loss", "off"));
        assertFalse(off.err().contains("interference loss"), off.err());
        refused("wudi-score", models, "--interference-loss applies to methods other than wudi", "--interference-loss",
                "on");
    }

    /** The fields docs/integration.md promises for each event of `--progress json` (schema 1). */
    private static final java.util.Map<String, List<String>> EVENT_FIELDS = java.util.Map.of(
            "start", List.of("tensors", "optimise", "score", "estimated_seconds"),
            "tensor_start", List.of("index", "name", "method"),
            "step", List.of("name", "step", "steps", "seconds_per_step", "tensor_eta_seconds"),
            "tensor_done", List.of("name", "method", "seconds", "loss_before", "loss_after"),
            "warning", List.of("message"),
            "info", List.of("message"),
            "done", List.of("out", "tensors", "optimised", "scored", "seconds", "method", "device", "loss_before",
                    "loss_after"),
            "error", List.of("exit", "message"));

    private static List<JsonNode> events(String stdout) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : stdout.strip().split("\n")) {
            JsonNode e = Wudi.json(line);
            assertEquals(1, e.get("schema").asInt(), line);
            List<String> fields = EVENT_FIELDS.get(e.get("event").asText());
            assertTrue(fields != null, "an event docs/integration.md names: " + line);
            for (String f : fields) {
                assertTrue(e.has(f), "event " + e.get("event") + " has " + f + ": " + line);
            }
            out.add(e);
        }
        return out;
    }

    @Test
    void jsonEventsFollowTheDocumentedSchemaAndErrorsAreJsonToo() throws Exception {
        for (String method : List.of("wudi", "ties")) {
            Wudi.Result r = Wudi.ok(merge(tmp.resolve("schema-" + method + ".safetensors"), models, "--method", method,
                    "--progress", "json"));
            List<JsonNode> ev = events(r.out());
            JsonNode done = ev.get(ev.size() - 1);
            assertEquals("done", done.get("event").asText());
            assertEquals(6, done.get("tensors").asInt());
            assertEquals(3, done.get(method.equals("wudi") ? "optimised" : "scored").asInt(), r.out());
            assertTrue(done.get("loss_after").asDouble() < done.get("loss_before").asDouble() || method.equals("ties"));
        }
        Wudi.Result missing = Wudi.run("merge", "--base", tmp.resolve("nope").toString(), "--model",
                models.get(0).toString(), "--out", tmp.resolve("never.safetensors").toString(), "--progress", "json");
        assertEquals(2, missing.exit());
        List<JsonNode> ev = events(missing.out());
        assertEquals(1, ev.size(), missing.out());
        assertEquals("error", ev.get(0).get("event").asText());
        assertEquals(2, ev.get(0).get("exit").asInt());
        assertEquals(tmp.resolve("nope") + ": no such file or folder", ev.get(0).get("message").asText());

        Wudi.Result unknown = Wudi.run("methods", "--json", "--bogus");
        assertEquals(2, unknown.exit());
        assertEquals("Unknown option: '--bogus'", events(unknown.out()).get(0).get("message").asText());

        JsonNode methods = Wudi.json(Wudi.ok("methods", "--json").out());
        assertEquals(1, methods.get("schema").asInt());
        assertEquals("wudi", methods.get("methods").get(0).get("name").asText());
        assertTrue(methods.get("methods").get(0).get("default").asBoolean());
        JsonNode inspect = Wudi.json(Wudi.ok("inspect", "--json", base.toString()).out());
        assertEquals(1, inspect.get("schema").asInt());
        JsonNode plan = Wudi.json(Wudi.ok("plan", "--json", "--base", base.toString(), "--model",
                models.get(0).toString(), "--model", models.get(1).toString()).out());
        assertEquals(1, plan.get("schema").asInt());
    }

    @Test
    void oneModelWithWudiIsWarnedWithWhatToDo() {
        Wudi.Result r = Wudi.ok(merge(tmp.resolve("one.safetensors"), List.of(models.get(0)),
                "--iters", "5"));
        assertTrue(r.err().contains("warning: one --model: WUDI returns its weights unchanged"), r.err());
    }

    @Test
    void scaleWithWudiIsTheBasePlusScaledTaskVector() throws Exception {
        Path full = tmp.resolve("scale1.safetensors");
        Path half = tmp.resolve("scale05.safetensors");
        Wudi.ok(merge(full, models, "--lr", "1e-3", "--iters", "30"));
        Wudi.Result r = Wudi.ok(merge(half, models, "--lr", "1e-3", "--iters", "30", "--scale",
                "0.5", "--report", tmp.resolve("scale.json").toString()));
        assertTrue(r.err().contains("wudi (adam lr 0.001, 30 steps, scale 0.5)"), r.err());
        assertTrue(Files.readString(tmp.resolve("scale.json")).contains("\"scale\" : 0.5"),
                "the report records the scale, as a number");
        try (SafetensorsFile b = SafetensorsFile.open(base); SafetensorsFile f = SafetensorsFile.open(full);
             SafetensorsFile h = SafetensorsFile.open(half)) {
            for (String name : List.of("enc.fc1.weight", "enc.fc2.weight", "enc.fc3.weight")) {
                float[] w0 = read(b, b.tensor(name));
                float[] one = read(f, f.tensor(name));
                float[] s = read(h, h.tensor(name));
                for (int j = 0; j < w0.length; j++) {
                    // tau_m recovered from the s = 1 output carries its rounding (u |W_0 + tau_m|), the s = 0.5
                    // output its own (u |W|): two units of float32 roundoff of the values involved
                    double want = w0[j] + 0.5 * ((double) one[j] - w0[j]);
                    double u = 0x1p-24;
                    assertEquals(want, s[j], 2 * u * (Math.abs(s[j]) + Math.abs(one[j]) + Math.abs(w0[j])),
                            name + " element " + j);
                }
            }
        }
    }

    private static float[] read(SafetensorsFile f, TensorInfo t) throws Exception {
        float[] a = new float[(int) t.numel()];
        f.readFloats(t, 0, a, 0, a.length);
        return a;
    }
}
