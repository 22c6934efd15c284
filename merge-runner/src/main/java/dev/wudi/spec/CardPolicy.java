package dev.wudi.spec;

/**
 * The README.md model card of a folder output: always the card of the merge, never the base's in its place (the
 * base's describes another model, its licence and tags included), unless none is asked for.
 */
public enum CardPolicy implements CliChoice {
    /** This merge's card, with the base's own card (if it has one) quoted at its end and its licence carried. */
    AUTO("auto"),
    /** This merge's card alone: the base's card is not quoted (its licence is still carried). */
    WRITE("write"),
    /** No README.md: neither a card of the merge nor the base's. */
    NONE("none");

    private final String cliName;

    CardPolicy(String cliName) {
        this.cliName = cliName;
    }

    @Override
    public String cliName() {
        return cliName;
    }

    public static CardPolicy parse(String s) {
        return CliChoice.parse(CardPolicy.class, "--card", s);
    }
}
