package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.Tensor;
import dev.wudi.hub.Wudi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A config's tokenizer_source decides the output's vocabulary as mergekit's does, and every place says so: base keeps
 * the base's rows, vocab_size and tokenizer; a model's path gives that model's rows (rows past the base's the mean of
 * the models that have them, another model's further rows left out), its vocab_size and its tokenizer files; without
 * one, --vocab decides (extend: every added row, the tokenizer of a model holding them all; base: the base's). The
 * line said on stderr is the one in the model card, the JSON report and `wudi plan`.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenizerSourceTest {

    @TempDir
    static Path tmp;

    static final int VOCAB = 50;
    static final int HIDDEN = 32;

    Model base;
    Model g1;
    Model g3;
    Path basePath;
    Path chat;
    Path grown1;
    Path grown3;

    @BeforeAll
    void folders() throws Exception {
        base = HubModels.llama(1, HIDDEN, 48, 4, 2, VOCAB, false, 81);
        basePath = write("base", base, VOCAB);
        chat = write("ft-chat", HubModels.fineTune(base, "proj", 2, 0.01, 82), VOCAB);
        g1 = HubModels.withExtraVocabRows(HubModels.fineTune(base, "proj", 2, 0.01, 83), 1, 84);
        grown1 = write("ft-plus1", g1, VOCAB + 1);
        g3 = HubModels.withExtraVocabRows(HubModels.fineTune(base, "proj", 2, 0.01, 85), 3, 86);
        grown3 = write("ft-plus3", g3, VOCAB + 3);
    }

    private Path write(String name, Model m, int tokens) throws Exception {
        Path p = HubFolder.write(tmp.resolve(name), m, DType.F32);
        ConfigRoundTripTest.tokenizer(p, tokens);
        return p;
    }

    /** A task_arithmetic config of the three fine-tunes, with this tokenizer_source line (or none). */
    private Path config(String name, String tokenizerSource) throws Exception {
        StringBuilder y = new StringBuilder("merge_method: task_arithmetic\nbase_model: " + basePath + "\nmodels:\n");
        for (Path m : List.of(chat, grown1, grown3)) {
            y.append("  - model: ").append(m).append("\n    parameters: {weight: 0.5}\n");
        }
        if (tokenizerSource != null) {
            y.append("tokenizer_source: ").append(tokenizerSource).append('\n');
        }
        return Files.writeString(tmp.resolve(name + ".yml"), y.toString());
    }

    /** Runs a config with a report; the output's folder. */
    private Outcome run(String name, String tokenizerSource, String... more) throws Exception {
        Path out = tmp.resolve("out-" + name);
        Path report = tmp.resolve(name + ".json");
        List<String> a = new ArrayList<>(List.of("mergekit-yaml", config(name, tokenizerSource).toString(),
                out.toString(), "--report", report.toString()));
        a.addAll(List.of(more));
        Wudi.Result r = Wudi.ok(a.toArray(new String[0]));
        return new Outcome(out, r.err(), Wudi.json(report), Wudi.tensors(out));
    }

    record Outcome(Path out, String err, JsonNode report, Map<String, Tensor> tensors) {
        long rows(String tensor) {
            return tensors.get(tensor).shape()[0];
        }

        long vocabSize() throws Exception {
            return Wudi.json(out.resolve("config.json")).get("vocab_size").asLong();
        }

        String tokenizerFrom() throws Exception {
            return Wudi.json(out.resolve("tokenizer.json")).get("from").asText();
        }

        /** The one vocabulary line, said alike on stderr, in the card and in the JSON report's notes. */
        String said(String start) throws Exception {
            String line = err.lines().filter(l -> l.startsWith("wudi: " + start)).findFirst().orElseThrow(
                    () -> new AssertionError("no line starting '" + start + "' in\n" + err)).substring(6);
            assertTrue(Files.readString(out.resolve("README.md")).contains("- " + line + "\n"), "the card says " + line);
            List<String> notes = new ArrayList<>();
            report.get("notes").forEach(n -> notes.add(n.asText()));
            assertTrue(notes.contains(line), "the report's notes say " + line + ": " + notes);
            return line;
        }
    }

    @Test
    void tokenizerSourceBaseKeepsTheBasesVocabulary() throws Exception {
        Outcome o = run("src-base", "base");
        for (String n : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            assertEquals(VOCAB, o.rows(n), n);
        }
        assertEquals(VOCAB, o.vocabSize());
        assertEquals("base", o.tokenizerFrom());
        assertEquals("the vocabulary grew in some models (model.embed_tokens.weight, lm_head.weight): tokenizer_source"
                + " base keeps the base's 50 rows and tokenizer; the added rows are left out",
                o.said("the vocabulary grew"));
        assertFalse(o.err().contains("tokenizer files are taken from"), o.err());

        Outcome cli = run("vocab-base", null, "--vocab", "base");
        assertEquals(o.tensors().keySet(), cli.tensors().keySet());
        for (String n : o.tensors().keySet()) {
            assertArrayEquals(cli.tensors().get(n).data(), o.tensors().get(n).data(), n + ": as --vocab base");
        }
        assertEquals("base", cli.tokenizerFrom());
        assertTrue(cli.said("the vocabulary grew").endsWith("--vocab base keeps the base's 50 rows and leaves the added"
                + " rows out"));
    }

    @Test
    void aModelsPathGivesItsRowsVocabSizeAndTokenizer() throws Exception {
        Outcome kept = run("src-base-2", "base");

        Outcome c = run("src-chat", chat.toString());
        assertEquals(VOCAB, c.rows("model.embed_tokens.weight"));
        assertEquals(VOCAB, c.rows("lm_head.weight"));
        assertEquals(VOCAB, c.vocabSize());
        assertEquals("ft-chat", c.tokenizerFrom(), "the tokenizer_source's files");
        for (String n : kept.tensors().keySet()) {
            assertArrayEquals(kept.tensors().get(n).data(), c.tensors().get(n).data(), n + ": the base's rows");
        }
        assertEquals("the vocabulary grew in some models (model.embed_tokens.weight, lm_head.weight): tokenizer_source "
                + chat + " (model 1) has the base's 50 rows: the output keeps them; rows past 50 (up to 53 in some"
                + " models) are left out; tokenizer files are " + chat + "'s", c.said("the vocabulary grew"));

        Outcome p1 = run("src-plus1", grown1.toString());
        for (String n : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            assertEquals(VOCAB + 1, p1.rows(n), n);
            float[] out = p1.tensors().get(n).data();
            assertArrayEquals(kept.tensors().get(n).data(), Arrays.copyOf(out, VOCAB * HIDDEN), n + ": base rows");
            for (int j = VOCAB * HIDDEN; j < (VOCAB + 1) * HIDDEN; j++) {
                float mean = (g1.tensor(n).data()[j] + g3.tensor(n).data()[j]) / 2;
                assertEquals(mean, out[j], 0f, n + ": the added row is the mean of the two models that have it");
            }
        }
        assertEquals(VOCAB + 1, p1.vocabSize());
        assertEquals("ft-plus1", p1.tokenizerFrom());
        assertEquals("the vocabulary grew in some models (model.embed_tokens.weight, lm_head.weight): the output has 51"
                + " rows, as tokenizer_source " + grown1 + " (model 2); rows past the base's 50 are the mean of the"
                + " models that have them; rows past 51 (up to 53 in some models) are left out; tokenizer files are "
                + grown1 + "'s", p1.said("the vocabulary grew"));

        Outcome p3 = run("src-plus3", grown3.toString());
        Outcome extend = run("no-source", null);
        assertEquals(VOCAB + 3, p3.rows("model.embed_tokens.weight"));
        assertEquals(VOCAB + 3, p3.vocabSize());
        assertEquals("ft-plus3", p3.tokenizerFrom());
        for (String n : p3.tensors().keySet()) {
            assertArrayEquals(extend.tensors().get(n).data(), p3.tensors().get(n).data(), n + ": as --vocab extend");
        }
    }

    @Test
    void withoutATokenizerSourceVocabDecides() throws Exception {
        Outcome e = run("extend", null);
        assertEquals(VOCAB + 3, e.rows("model.embed_tokens.weight"));
        assertEquals(VOCAB + 3, e.vocabSize());
        assertEquals("ft-plus3", e.tokenizerFrom(), "the model holding every added row");
        assertEquals("the vocabulary grew in some models (model.embed_tokens.weight, lm_head.weight): the output has 53"
                + " rows; rows past the base's 50 are the mean of the models that have them; tokenizer files are taken"
                + " from model 3 (" + grown3 + ") (--vocab base keeps the base's)", e.said("the vocabulary grew"));
        assertFalse(Files.readString(e.out().resolve("mergekit_config.yml")).contains("tokenizer_source"),
                "none given, none written: --vocab decides");

        Wudi.Result both = Wudi.run("mergekit-yaml", config("both", chat.toString()).toString(),
                tmp.resolve("out-both").toString(), "--vocab", "base");
        assertEquals(2, both.exit(), both.toString());
        assertTrue(both.err().contains("--vocab applies where a config gives no tokenizer_source; here tokenizer_source "
                + chat + " chooses the vocabulary and the tokenizer"), both.err());
        assertFalse(Files.exists(tmp.resolve("out-both")));
    }

    @Test
    void aFolderOutsideTheMergeGivesItsVocabSizeWithinWhatTheModelsHave() throws Exception {
        Path tok = Files.createDirectories(tmp.resolve("tokenizer-52"));
        Files.writeString(tok.resolve("config.json"), "{\"vocab_size\": 52}");
        ConfigRoundTripTest.tokenizer(tok, 52);
        Outcome o = run("src-folder", tok.toString());
        assertEquals(52, o.rows("model.embed_tokens.weight"));
        assertEquals(52, o.vocabSize());
        assertEquals("tokenizer-52", o.tokenizerFrom());
        assertTrue(o.said("the vocabulary grew").contains("the output has 52 rows, as tokenizer_source " + tok + ";"));

        Files.writeString(tok.resolve("config.json"), "{\"vocab_size\": 60}");
        Wudi.Result big = Wudi.run("mergekit-yaml", config("big", tok.toString()).toString(),
                tmp.resolve("out-big").toString());
        assertEquals(2, big.exit(), big.toString());
        assertTrue(big.err().contains("tokenizer_source " + tok + " has vocab_size 60 (its config.json), but the"
                + " output's model.embed_tokens.weight can have from 50 rows (the base's) to 53"), big.err());
        assertFalse(Files.exists(tmp.resolve("out-big")));

        Path none = Files.createDirectories(tmp.resolve("no-tokenizer"));
        Files.writeString(none.resolve("config.json"), "{\"vocab_size\": 50}");
        Wudi.Result empty = Wudi.run("mergekit-yaml", config("empty", none.toString()).toString(),
                tmp.resolve("out-empty").toString());
        assertEquals(2, empty.exit(), empty.toString());
        assertTrue(empty.err().contains("tokenizer_source " + none + ": " + none + " holds no tokenizer files"),
                empty.err());
        assertFalse(Files.exists(tmp.resolve("out-empty")));
    }

    @Test
    void thePlanSaysTheSame() throws Exception {
        Wudi.Result plan = Wudi.ok("plan", "--config", config("plan", grown1.toString()).toString());
        assertTrue(plan.out().contains("the output has 51 rows, as tokenizer_source " + grown1 + " (model 2)")
                || plan.err().contains("the output has 51 rows, as tokenizer_source " + grown1 + " (model 2)"),
                plan.toString());
    }
}
