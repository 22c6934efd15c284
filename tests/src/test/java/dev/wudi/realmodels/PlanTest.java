package dev.wudi.realmodels;

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
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `wudi plan` / `merge --dry-run`: before a two-hour merge a user sees, per tensor, that c_attn will be optimised
 * in the paper's orientation (and why), which heads are kept where, and what it will cost; nothing is written.
 */
@dev.wudi.hub.NeedsPeftFixtures
class PlanTest {

    @TempDir
    static Path tmp;

    static Model gpt2;
    static Path base;
    static Path a;
    static Path b;

    @BeforeAll
    static void models() throws Exception {
        gpt2 = HubModels.gpt2(1, 32, 8, 3);
        base = HubFolder.write(tmp.resolve("gpt2"), gpt2, DType.BF16);
        a = HubFolder.write(tmp.resolve("a"), HubModels.gpt2SequenceClassifier(gpt2,
                PeftAdapter.read(PeftFixtures.adapter("gpt2-lora-cattn-r8/stathopoan__lightweight-ft"))), DType.BF16);
        b = HubFolder.write(tmp.resolve("b"), HubModels.gpt2SequenceClassifier(gpt2,
                PeftAdapter.read(PeftFixtures.adapter("gpt2-lora-cattn-r8/ybriz__generative-ai"))), DType.BF16);
    }

    @Test
    void planShowsRolesLayoutsActionsAndCosts() throws Exception {
        Wudi.Result text = Wudi.ok("plan", "--base", base.toString(), "--model", a.toString(), "--model", b.toString());
        String t = text.out();
        // the default merge: the spectral solver on the linear weights, the models' average elsewhere
        assertTrue(t.matches("(?s).*h\\.0\\.attn\\.c_attn\\.weight\\s+linear\\s+in-out\\s+\\[768, 2304\\]\\s+wudi \\(spectral\\).*"), t);
        assertTrue(t.matches("(?s).*wte\\.weight\\s+embedding\\s+out-in\\s+\\[32, 768\\]\\s+rest: average.*"), t);
        assertTrue(t.contains("the default merge (--solver adam for the paper's Adam"), t);
        assertTrue(t.matches("(?s).*h\\.0\\.ln_1\\.weight\\s+norm\\s+vector.*"), t);
        assertTrue(t.contains("4 x in-out: config.json model_type gpt2: Conv1D"), t);
        assertTrue(t.contains("model 1: score.weight [6, 768]: saved to heads/model-1.safetensors"), t);
        assertTrue(t.contains("total: 16 tensors, 4 computed by wudi"), t);

        // the paper's merge: Adam's solver state and step rate
        JsonNode p = Wudi.json(Wudi.ok("plan", "--json", "--base", base.toString(), "--model", a.toString(),
                "--model", b.toString(), "--solver", "adam").out());
        JsonNode cattn = null;
        for (JsonNode n : p.get("tensors")) {
            if (n.get("name").asText().equals("h.0.attn.c_attn.weight")) {
                cattn = n;
            }
        }
        assertEquals("in-out", cattn.get("layout").asText());
        assertTrue(cattn.get("layout_source").asText().contains("model_type gpt2"));
        assertEquals(2304, cattn.get("matrices").get("out").asInt());
        assertEquals(768, cattn.get("matrices").get("in").asInt());
        assertTrue(cattn.get("matrices").get("stored_transposed").asBoolean());
        // 2 tasks: Gram form 2 * 3 r c^2, then 301 products of 2 r c^2 with r = 2304, c = 768
        double rc2 = 2304.0 * 768 * 768;
        assertEquals(2 * 3 * rc2 + 301 * 2 * rc2, cattn.get("flops").asDouble(), 1);
        assertTrue(cattn.get("peak_bytes").asLong() > 4L * 2304 * 768 * 9, "at least nine [r, c] float arrays");
        assertTrue(cattn.get("seconds").asDouble() > 0);
        assertTrue(p.get("step_flops_per_second").asDouble() > 1e8, "measured on this machine");
        assertEquals(16, p.get("totals").get("tensors").asInt());
        assertEquals("wudi (adam lr 1.0E-5, 300 steps)", p.get("method").asText());
    }

    @Test
    void dryRunWritesNothingAndRefusesWhatAMergeRefuses() throws Exception {
        Path out = tmp.resolve("never");
        Wudi.Result r = Wudi.ok("merge", "--dry-run", "--base", base.toString(), "--model", a.toString(),
                "--out", out.toString());
        assertTrue(r.out().contains("h.0.attn.c_attn.weight"), r.out());
        assertFalse(Files.exists(out));
        Wudi.ok("merge", "--dry-run", "--base", base.toString(), "--model", a.toString());   // --out optional here
        Wudi.Result noOut = Wudi.run("merge", "--base", base.toString(), "--model", a.toString());
        assertEquals(2, noOut.exit(), noOut.toString());
        assertTrue(noOut.err().contains("--out"), noOut.err());
        Wudi.Result json = Wudi.run("merge", "--json", "--base", base.toString(), "--model", a.toString(), "--out",
                out.toString());
        assertEquals(2, json.exit(), json.toString());

        Model other = HubModels.gpt2(2, 32, 8, 3);
        Path two = HubFolder.write(tmp.resolve("two-layers"), other, DType.BF16);
        Wudi.Result refused = Wudi.run("plan", "--base", base.toString(), "--model", two.toString());
        assertEquals(1, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("n_layer (base 1, model 2)"), refused.err());
    }

    /** No config.json: GPT-2's names and the shapes of c_attn / c_fc decide, and the plan says it was a name rule. */
    @Test
    void withoutConfigJsonANameRuleDecidesAndLayoutOverrides() throws Exception {
        Map<String, Tensor> t = new LinkedHashMap<>();
        gpt2.tensors().forEach((n, v) -> t.put(n, v));
        Path single = tmp.resolve("gpt2.safetensors");
        HubFolder.writeSafetensors(single, t, DType.BF16, Map.of());
        JsonNode p = Wudi.json(Wudi.ok("plan", "--json", "--base", single.toString(), "--model", single.toString()).out());
        JsonNode cfc = find(p, "h.0.mlp.c_fc.weight");
        assertEquals("in-out", cfc.get("layout").asText());
        assertTrue(cfc.get("layout_source").asText().startsWith("name rule"), cfc.toString());
        JsonNode forced = find(Wudi.json(Wudi.ok("plan", "--json", "--base", single.toString(), "--model",
                single.toString(), "--layout", "mlp\\.c_fc=out-in").out()), "h.0.mlp.c_fc.weight");
        assertEquals("out-in", forced.get("layout").asText());
        assertEquals("--layout mlp\\.c_fc=out-in", forced.get("layout_source").asText());
    }

    private static JsonNode find(JsonNode plan, String name) {
        for (JsonNode n : plan.get("tensors")) {
            if (n.get("name").asText().equals(name)) {
                return n;
            }
        }
        throw new AssertionError(name + " not in the plan");
    }
}
