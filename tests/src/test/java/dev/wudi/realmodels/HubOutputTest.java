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
import dev.wudi.hub.Wudi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An output a Hugging Face user recognises: config.json with the output dtype, a README.md model card with the
 * hub's front matter and the command that reproduces the merge (never over the base's own card unless asked),
 * and reports that say what produced them.
 */
class HubOutputTest {

    @TempDir
    Path tmp;

    Path base;
    Path a;
    Path b;

    @BeforeEach
    void models() throws Exception {
        Model m = HubModels.llama(1, 32, 48, 4, 2, 40, true, 1);
        m.config().put("_name_or_path", "meta-llama/Llama-3.2-1B");
        m.config().put("dtype", "float32");
        base = HubFolder.write(tmp.resolve("base"), m, DType.F32);
        a = HubFolder.write(tmp.resolve("math"), HubModels.fineTune(m, "proj", 2, 0.01, 2), DType.F32);
        b = HubFolder.write(tmp.resolve("code"), HubModels.fineTune(m, "proj", 2, 0.01, 3), DType.F32);
    }

    private Wudi.Result merge(Path out, String... more) {
        String[] args = {"merge", "--base", base.toString(), "--model", a.toString(), "--model", b.toString(),
            "--out", out.toString(), "--iters", "5"};
        String[] all = new String[args.length + more.length];
        System.arraycopy(args, 0, all, 0, args.length);
        System.arraycopy(more, 0, all, args.length, more.length);
        return Wudi.ok(all);
    }

    @Test
    void configJsonCarriesTheOutputDtypeAndIsOtherwiseTheBases() throws Exception {
        Path same = tmp.resolve("same");
        merge(same);
        assertArrayEquals(Files.readAllBytes(base.resolve("config.json")), Files.readAllBytes(same.resolve("config.json")),
                "nothing to change: copied byte for byte");
        Path bf16 = tmp.resolve("bf16");
        merge(bf16, "--dtype", "bf16");
        JsonNode c = Wudi.json(bf16.resolve("config.json"));
        JsonNode original = Wudi.json(base.resolve("config.json"));
        assertEquals("bfloat16", c.get("torch_dtype").asText());
        assertEquals("bfloat16", c.get("dtype").asText(), "the newer key too, where present");
        assertEquals(original.get("num_hidden_layers"), c.get("num_hidden_layers"));
        assertEquals(original.size(), c.size(), "no field added or lost");
    }

    @Test
    void theModelCardDescribesTheMergeAndHowToReproduceIt() throws Exception {
        Path out = tmp.resolve("carded");
        Path report = tmp.resolve("carded.json");
        merge(out, "--report", report.toString());
        String card = Files.readString(out.resolve("README.md"));
        assertTrue(card.startsWith("---\nbase_model: meta-llama/Llama-3.2-1B\nlibrary_name: transformers\ntags:\n- merge\n- wudi\n---\n"),
                card);
        assertTrue(card.contains("https://arxiv.org/abs/2503.08099"), card);
        assertTrue(card.contains("model 1: `" + a + "`") && card.contains("model 2: `" + b + "`"), card);
        assertTrue(card.contains("| method | wudi (adam lr 1.0E-5, 5 steps) |"), card);
        assertEquals(1, card.lines().filter(l -> l.startsWith("| method")).count(), "the method has one row: " + card);
        assertTrue(card.contains("| iters | 5 |"), card);
        assertTrue(card.contains("7 linear tensors: wudi (adam)"), card);
        assertTrue(card.contains("```sh\nwudi merge --base " + base + " --model " + a), card);

        JsonNode r = Wudi.json(report);
        assertEquals("wudi", r.get("tool").asText());
        assertTrue(r.get("version").asText().length() > 0);
        assertEquals("wudi (adam lr 1.0E-5, 5 steps)", r.get("method").asText(), "the method names its solver");
        assertEquals(base.toString(), r.get("inputs").get("base").asText());
        assertEquals(2, r.get("inputs").get("models").size());
        assertEquals("adam", r.get("options").get("solver").asText());
        assertTrue(r.get("options").get("iters").isIntegralNumber(), "a number is a JSON number: " + r.get("options"));
        assertEquals(5, r.get("options").get("iters").asInt());
        assertEquals(1e-5, r.get("options").get("lr").asDouble(), 0, "lr as given (1e-5), not a widened float");
        assertEquals("base", r.get("options").get("rest").asText());
        assertTrue(r.get("command").asText().startsWith("wudi merge --base"));
        JsonNode q = Wudi.record(r, "model.layers.0.self_attn.q_proj.weight");
        assertEquals("linear", q.get("role").asText());
        assertEquals("out-in", q.get("layout").asText());
        assertEquals("norm", Wudi.record(r, "model.norm.weight").get("role").asText());
        assertEquals("embedding", Wudi.record(r, "model.embed_tokens.weight").get("role").asText());

        String html = Files.readString(writeHtml(out));
        assertTrue(html.contains("wudi (adam lr 1.0E-5, 5 steps)") && html.contains("out-in"), html);
    }

    /** The card's opening says what a default merge writes: not WUDI's minimiser itself, a part of it per weight. */
    @Test
    void theDefaultMergesCardSaysItWritesAPartOfTheSolution() throws Exception {
        Path out = tmp.resolve("default-card");
        Wudi.ok("merge", "--base", base.toString(), "--model", a.toString(), "--model", b.toString(), "--out",
                out.toString());
        String card = Files.readString(out.resolve("README.md"));
        assertTrue(card.contains("W_i - W_0; this merge then writes a part of it, or a part of the models' average, per"
                + " weight"), card);
        assertTrue(card.contains("(WUDI's solution tau_m, before the coefficient or average written)"), card);
        Path paper = tmp.resolve("paper-card");
        merge(paper, "--solver", "adam");
        assertTrue(Files.readString(paper.resolve("README.md")).contains("W_i - W_0.\n"), "the paper's merge writes"
                + " the minimiser itself");
    }

    private Path writeHtml(Path out) {
        Path html = tmp.resolve("r.html");
        merge(tmp.resolve("again"), "--report-html", html.toString());
        return html;
    }

    @Test
    void theBasesOwnCardIsQuotedNeverPutInPlaceOfTheMergeCard() throws Exception {
        Files.writeString(base.resolve("README.md"), "---\nlicense: llama3.2\nlanguage:\n- en\ntags:\n- facebook\n"
                + "---\n\n# Llama 3.2\n\nThe base's own words.\n\n```python\nprint(1)\n```\n");
        Path quoted = tmp.resolve("quoted");
        merge(quoted);
        String card = Files.readString(quoted.resolve("README.md"));
        assertTrue(card.startsWith("---\nbase_model: meta-llama/Llama-3.2-1B\nlibrary_name: transformers\n"
                + "license: llama3.2\ntags:\n- merge\n- wudi\n---\n"), "the merge's front matter, the base's licence: "
                + card);
        assertFalse(card.contains("facebook") || card.contains("language:"), "the base's other front matter stays out");
        assertTrue(card.indexOf("quoted at the end") < card.indexOf("## Models merged"), "said near the top: " + card);
        String quote = card.substring(card.indexOf("## The base model's card"));
        assertTrue(quote.contains("(`" + base.resolve("README.md") + "`)"), "where it came from: " + quote);
        assertTrue(quote.endsWith("> # Llama 3.2\n>\n> The base's own words.\n>\n> ```python\n> print(1)\n> ```\n"),
                quote);
        Path alone = tmp.resolve("alone");
        merge(alone, "--card", "write");
        String written = Files.readString(alone.resolve("README.md"));
        assertTrue(written.contains("tags:\n- merge\n- wudi") && written.contains("license: llama3.2")
                && !written.contains("The base's own words"), "this card alone, the licence kept: " + written);
        Path none = tmp.resolve("none");
        merge(none, "--card", "none");
        assertFalse(Files.exists(none.resolve("README.md")), "no card, and not the base's either");
    }

    @Test
    void aSingleFileOutputHasNoCompanions() throws Exception {
        Path bf = tmp.resolve("base.safetensors");
        Model m = HubModels.llama(1, 32, 48, 4, 2, 40, true, 1);
        HubFolder.writeSafetensors(bf, m.tensors(), DType.F32, Map.of());
        Path mf = tmp.resolve("m.safetensors");
        HubFolder.writeSafetensors(mf, HubModels.fineTune(m, "proj", 2, 0.01, 2).tensors(), DType.F32, Map.of());
        Path out = tmp.resolve("o.safetensors");
        Wudi.ok("merge", "--base", bf.toString(), "--model", mf.toString(), "--out", out.toString(), "--iters", "2");
        try (var s = Files.list(tmp)) {
            assertEquals(0, s.filter(p -> p.getFileName().toString().startsWith("o.") && !p.equals(out)).count());
        }
    }
}
