package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.Model;
import dev.wudi.hub.Wudi;
import dev.wudi.merge.Figures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One merge, every report: the model card, the JSON report, the HTML page, the summary on stderr and the plan say the
 * same things in the same words, because they are written from one record. The facts compared: the method as applied
 * (a config's per-model values included), what was done to each kind of tensor, the notes (tensors kept as the base
 * although the fine-tunes changed them), the losses, the options and the warnings; and a merge without a base says
 * nowhere that it has one.
 */
class ReportsAgreeTest {

    @TempDir
    Path tmp;

    Path base;
    Path ft1;
    Path ft2;

    @BeforeEach
    void folders() throws Exception {
        Model gpt2 = GoldenOutputsTest.tinyGpt2(20);
        base = HubFolder.write(tmp.resolve("base"), gpt2, DType.F32);
        ft1 = HubFolder.write(tmp.resolve("ft1"), GoldenOutputsTest.fineTune(gpt2, 21, 0.005, "attn", "mlp", "ln_"),
                DType.F32);
        ft2 = HubFolder.write(tmp.resolve("ft2"), GoldenOutputsTest.fineTune(gpt2, 22, 0.005, "attn", "mlp"),
                DType.F32);
        Files.writeString(base.resolve("README.md"), "---\nlicense: mit\n---\n# GPT-2\n\nThe base's card.\n");
    }

    /** What one merge wrote: its card, JSON and HTML reports, and what it said on stderr. */
    private record Written(String card, JsonNode json, String html, String err) {
    }

    private Written merge(String... args) throws Exception {
        Path out = tmp.resolve("out");
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(List.of("--out", out.toString(), "--report", tmp.resolve("r.json").toString(), "--report-html",
                tmp.resolve("r.html").toString(), "--threads", "1"));
        Wudi.Result r = Wudi.ok(a.toArray(new String[0]));
        return new Written(Files.readString(out.resolve("README.md")), Wudi.json(tmp.resolve("r.json")),
                Files.readString(tmp.resolve("r.html")), r.err());
    }

    private static String html(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;")
                .replace("'", "&#39;");
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void aWudiMergeSaysTheSameInEveryReport() throws Exception {
        String[] inputs = {"--base", base.toString(), "--model", ft1.toString(), "--model", ft2.toString(), "--iters",
            "5"};
        List<String> args = new ArrayList<>(List.of("merge"));
        args.addAll(List.of(inputs));
        Written w = merge(args.toArray(new String[0]));
        List<String> planArgs = new ArrayList<>(List.of("plan"));
        planArgs.addAll(List.of(inputs));
        String plan = Wudi.ok(planArgs.toArray(new String[0])).out();

        // the method as applied: one string everywhere
        String method = w.json().get("method").asText();
        assertEquals("wudi (adam lr 1.0E-5, 5 steps)", method);
        assertTrue(w.card().contains("| method | " + method + " |"), w.card());
        assertEquals(1, w.card().lines().filter(l -> l.startsWith("| method")).count(), "one method row: " + w.card());
        assertTrue(w.html().contains("method <b>" + html(method) + "</b>"), w.html());
        assertTrue(w.err().contains(" with " + method + " on cpu "), w.err());
        assertTrue(plan.startsWith("plan: " + method + " on "), plan);

        // what was done to each kind of tensor: the plan's words before, the reports' after
        List<String> actions = texts(w.json().get("actions"));
        assertTrue(actions.contains("8 linear tensors: wudi (adam), each solved as the paper's [out, in] (8 stored"
                + " [in, out], as Conv1D stores them)"), actions.toString());
        assertTrue(actions.contains("2 embedding tensors: rest: base"), "wpe and wte are embeddings: " + actions);
        for (String a : actions) {
            assertTrue(w.card().contains("\n- " + a + "\n"), a + "\n" + w.card());
            assertTrue(w.html().contains("<li>" + html(a) + "</li>"), a);
            assertTrue(plan.contains("\n  " + a + "\n"), a + "\n" + plan);
        }

        // the notes: the tensors --rest base kept although ft1 changed them (its norms, both models' biases)
        List<String> notes = texts(w.json().get("notes"));
        String kept = notes.stream().filter(n -> n.contains("kept the base although the fine-tunes changed"))
                .findFirst().orElseThrow(() -> new AssertionError("no kept note in " + notes));
        assertTrue(kept.startsWith("18 tensors kept the base"), kept);   // ft1's 10 norms, both models' 8 biases
        assertTrue(w.card().contains("## Notes\n\n- " + kept + "\n"), w.card());
        assertTrue(w.html().contains("<li>" + html(kept) + "</li>"), w.html());
        assertTrue(w.err().contains("wudi: " + kept + "\n"), w.err());

        // the losses, in one format, from the same totals
        JsonNode totals = w.json().get("totals");
        String before = Figures.of(totals.get("loss_before").asDouble());
        String after = Figures.of(totals.get("loss_after").asDouble());
        assertEquals(8, totals.get("scored").asInt());
        assertTrue(w.card().contains("- interference loss summed over the 8 optimised tensors: " + before + " before, "
                + after + " after\n"), w.card());
        assertTrue(w.html().contains("<b>" + before + "</b> before, <b>" + after + "</b> after"), w.html());
        assertTrue(w.err().contains("interference loss, summed over optimised tensors: " + before + " -> " + after),
                w.err());

        // the options: the card's table and the JSON's values, as given (numbers typed in the JSON)
        JsonNode options = w.json().get("options");
        options.fields().forEachRemaining(e -> {
            String row = w.card().lines().filter(l -> l.startsWith("| " + e.getKey() + " | ")).findFirst()
                    .orElseThrow(() -> new AssertionError("no card row for " + e.getKey()));
            String shown = row.substring(e.getKey().length() + 5, row.length() - 2);
            if (e.getKey().equals("method")) {
                assertEquals(method, shown);
            } else if (e.getValue().isNumber()) {
                assertEquals(e.getValue().asDouble(), Double.parseDouble(shown), 0, row);
            } else {
                assertEquals(e.getValue().asText(), shown, row);
            }
        });
        assertEquals("1e-5", cardValue(w.card(), "lr"), "the card shows the option as given");
        assertEquals(1e-5, options.get("lr").asDouble(), 0);
        assertEquals("5GB", cardValue(w.card(), "shard-size"));
        assertEquals("5GB", options.get("shard-size").asText());

        // one warning, the same everywhere: 5 Adam steps at lr 1e-5 leave tau_m by the sum it starts from (the
        // data-free sign that the merge is likely worse than averaging); and the solver's lr not labelled as --lr auto's
        assertEquals(1, w.json().get("warnings").size(), w.json().get("warnings").toString());
        String warning = w.json().get("warnings").get(0).asText();
        assertTrue(warning.startsWith("likely worse than averaging") && warning.contains("Adam ended near its start"),
                warning);
        assertTrue(w.card().contains("## Warnings") && w.card().contains(warning), w.card());
        assertTrue(w.html().contains("<h2>Warnings</h2>") && w.html().contains(html(warning)), w.html());
        assertEquals(1, w.err().lines().filter(l -> l.contains("warning:")).count(), w.err());
        assertTrue(w.err().contains("warning: " + warning), w.err());
        assertTrue(w.html().contains("lr 1.00e-05;") && !w.html().contains("(--lr auto,"), "a default lr is just the lr");
    }

    private static String cardValue(String card, String key) {
        String row = card.lines().filter(l -> l.startsWith("| " + key + " | ")).findFirst().orElseThrow();
        return row.substring(key.length() + 5, row.length() - 2);
    }

    @Test
    void aConfigsPerModelParametersAreTheOnesEveryReportNames() throws Exception {
        Path config = tmp.resolve("ties.yml");
        Files.writeString(config, "merge_method: ties\nbase_model: " + base + "\nmodels:\n  - model: " + ft1
                + "\n    parameters: {density: 0.5, weight: 1.0}\n  - model: " + ft2
                + "\n    parameters: {density: 0.5, weight: 1.0}\n");
        Written w = merge("merge", "--config", config.toString());
        String method = w.json().get("method").asText();
        assertEquals("ties (scale 1.0; model 1: density 0.5, weight 1.0; model 2: density 0.5, weight 1.0)", method);
        assertTrue(w.card().contains("| method | " + method + " |"), w.card());
        assertTrue(w.html().contains(html(method)));
        assertTrue(w.err().contains(" with " + method + " on cpu "), w.err());
        String plan = Wudi.ok("plan", "--config", config.toString()).out();
        assertTrue(plan.startsWith("plan: " + method + " on "), plan);
        // the merge's own density (mergekit's 1.0) applied nowhere: no report names it
        assertFalse(w.json().get("options").has("density"), w.json().get("options").toString());
        for (String said : List.of(w.card(), w.json().toString(), w.html(), w.err(), plan)) {
            assertFalse(said.contains("density 1.0") || said.contains("| density |") || said.contains("density=1.0"),
                    said);
        }
        // TIES is element-wise: no orientation is claimed, and the loss is over the linear weights alone (not wpe)
        assertTrue(w.card().contains("\n- 8 linear tensors: ties\n"), w.card());
        assertFalse(w.card().contains("[out, in]"), w.card());
        assertEquals(8, w.json().get("totals").get("scored").asInt());
        assertTrue(w.card().contains("summed over the 8 linear weights"), w.card());
        assertTrue(w.json().get("notes").isEmpty(), "ties takes every tensor: none kept as the base");
    }

    @Test
    void aMergeWithoutABaseSaysNowhereThatItHasOne() throws Exception {
        Path config = tmp.resolve("linear.yml");
        Files.writeString(config, "merge_method: linear\nmodels:\n  - model: " + ft1 + "\n    parameters: {weight:"
                + " 0.3}\n  - model: " + ft2 + "\n    parameters: {weight: 0.7}\n");
        Written w = merge("merge", "--config", config.toString());
        assertFalse(w.err().contains("is the base itself") || w.err().contains("warning:"), w.err());
        assertFalse(w.err().contains("interference loss"), "no task vectors, no loss: " + w.err());
        assertTrue(w.json().get("inputs").get("base").isNull(), w.json().get("inputs").toString());
        assertEquals(0, w.json().get("totals").get("scored").asInt());
        assertEquals(0, w.json().get("warnings").size());
        assertEquals("average (model 1: weight 0.3; model 2: weight 0.7)", w.json().get("method").asText());
        assertTrue(w.card().contains("merges 2 models without a base") && w.card().contains("- base: none"), w.card());
        assertFalse(w.card().contains("interference loss") || w.card().contains("The base model's card"), w.card());
        assertTrue(w.html().contains("base none"), w.html());
        String plan = Wudi.ok("plan", "--config", config.toString()).out();
        assertTrue(plan.contains("\nbase: none (model 1 gives the tensor names and layout)\n"), plan);
    }
}
