package dev.wudi.merge;

import java.util.Locale;

/**
 * What happens when fine-tunes grew the vocabulary (added tokens: embed_tokens / wte / lm_head with V + k rows
 * where the base has V): the base's rows are merged by the tensor's usual policy either way.
 */
public enum VocabPolicy {
    /**
     * The output has the largest vocabulary among the models: each added row is the mean of that row over the
     * models that have it (one model: its row), config.json's vocab_size follows, and the tokenizer files come
     * from a model that holds every added row. The default: nothing a user trained is lost.
     */
    EXTEND("extend"),
    /** The output keeps the base's vocabulary and shapes; the added rows are left out (named). */
    BASE("base");

    private final String cliName;

    VocabPolicy(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    public static VocabPolicy parse(String s) {
        String n = s.trim().toLowerCase(Locale.ROOT);
        for (VocabPolicy p : values()) {
            if (p.cliName.equals(n)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown --vocab '" + s + "' (choose extend or base)");
    }
}
