package dev.wudi.spec;

/**
 * What happens when fine-tunes grew the vocabulary (added tokens: embed_tokens / wte / lm_head with V + k rows
 * where the base has V): the base's rows are merged by the tensor's usual policy either way.
 */
public enum VocabPolicy implements CliChoice {
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

    @Override
    public String cliName() {
        return cliName;
    }

    public static VocabPolicy parse(String s) {
        return CliChoice.parse(VocabPolicy.class, "--vocab", s);
    }
}
