package dev.wudi.spec;

import java.nio.file.Path;

/**
 * The tokenizer a mergekit config's tokenizer_source names, and with it the output's vocabulary: the base's
 * (tokenizer_source: base), or a model's (a model's path: its tokenizer files, and as many rows of every vocabulary
 * tensor as that model has). A vocabulary tensor's rows past the base's are the mean of the models that have them,
 * as with --vocab extend; a model with more rows than the source has them left out.
 *
 * @param text   tokenizer_source as the config gives it ("base", "./ft-chat")
 * @param folder the model folder it names, or null for the base
 */
public record TokenizerSource(String text, Path folder) {

    /** tokenizer_source: base. */
    public static final TokenizerSource BASE = new TokenizerSource("base", null);

    /** Whether the base's tokenizer and vocabulary are kept. */
    public boolean isBase() {
        return folder == null;
    }

    /** "tokenizer_source base", "tokenizer_source ./ft-chat", for messages. */
    public String describe() {
        return "tokenizer_source " + text;
    }
}
