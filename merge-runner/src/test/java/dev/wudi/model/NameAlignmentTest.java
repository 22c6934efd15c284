package dev.wudi.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** A fine-tune's spelling of the base's names, which --heads from:K writes. */
class NameAlignmentTest {

    @Test
    void baseNamesAreSpelledAsTheFineTuneSpellsThem() {
        // GPT2ForSequenceClassification's file against openai-community/gpt2's bare GPT2Model file
        NameAlignment a = NameAlignment.of(List.of("wte.weight", "h.0.attn.c_attn.weight", "h.0.attn.bias"),
                List.of("transformer.wte.weight", "transformer.h.0.attn.c_attn.weight", "score.weight"),
                List.of("transformer"));
        assertEquals("transformer.wte.weight", a.spelled("wte.weight"));
        assertEquals("transformer.h.0.attn.bias", a.spelled("h.0.attn.bias"), "a buffer its file lacks: as the rest");
        assertEquals(List.of("score.weight"), a.unmatched());
        // a bare BertModel fine-tune against a base saved from BertForSequenceClassification
        NameAlignment b = NameAlignment.of(List.of("bert.pooler.dense.weight", "bert.embeddings.position_ids"),
                List.of("pooler.dense.weight"), List.of("bert"));
        assertEquals("pooler.dense.weight", b.spelled("bert.pooler.dense.weight"));
        assertEquals("embeddings.position_ids", b.spelled("bert.embeddings.position_ids"));
        NameAlignment same = NameAlignment.of(List.of("model.norm.weight"), List.of("model.norm.weight"),
                List.of("model"));
        assertEquals("model.norm.weight", same.spelled("model.norm.weight"));
    }
}
