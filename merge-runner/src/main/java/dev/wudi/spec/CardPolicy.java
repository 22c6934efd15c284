package dev.wudi.spec;

/** Whether a folder output gets a README.md model card describing the merge. */
public enum CardPolicy implements CliChoice {
    /** Written, unless the base has a README.md of its own (then the base's is copied, as every companion file). */
    AUTO("auto"),
    /** Written, over the base's README.md if it has one. */
    WRITE("write"),
    /** Not written (the base's README.md, if any, is copied). */
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
