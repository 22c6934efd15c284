package dev.wudi.spec;

/**
 * Whether a merge by a method other than WUDI reports WUDI's interference loss of its result on the weights WUDI
 * would take, so that a TIES or DARE report compares with a WUDI one (--interference-loss).
 */
public enum LossScoring implements CliChoice {
    /** Computed when its estimated cost is small next to a merge's (see {@link #AUTO_BUDGET_SECONDS}). */
    AUTO("auto"),
    /** Always computed. */
    ON("on"),
    /** Never computed. */
    OFF("off");

    /**
     * Under auto, the loss is computed when the whole merge's scoring is estimated under this many seconds at the
     * nominal CPU rate: an element-wise merge takes seconds to minutes, and a diagnostic must not multiply that.
     */
    public static final double AUTO_BUDGET_SECONDS = 20;

    private final String cliName;

    LossScoring(String cliName) {
        this.cliName = cliName;
    }

    @Override
    public String cliName() {
        return cliName;
    }

    public static LossScoring parse(String s) {
        return CliChoice.parse(LossScoring.class, "--interference-loss", s);
    }
}
