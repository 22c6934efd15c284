package dev.wudi.spec;

/** What happens to tensors the method does not touch (specification 3). */
public enum RestPolicy implements CliChoice {
    /** Keep the base value: what the official WUDI code does; the default with any solver option. */
    BASE("base"),
    /** Mean of the fine-tuned values: what one published reproduction does; WUDI's default merge's. */
    AVERAGE("average"),
    /** W0 + scale * sum of task vectors, with --scale. */
    TASK_ARITHMETIC("task-arithmetic");

    private final String cliName;

    RestPolicy(String cliName) {
        this.cliName = cliName;
    }

    @Override
    public String cliName() {
        return cliName;
    }

    public static RestPolicy parse(String s) {
        return CliChoice.parse(RestPolicy.class, "--rest", s);
    }
}
