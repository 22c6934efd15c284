package dev.wudi.merge;

import java.util.Locale;

/** What happens to tensors the method does not touch (SPEC section 3). */
public enum RestPolicy {
    /** Keep the base value: what the official WUDI code does. The default. */
    BASE("base"),
    /** Mean of the fine-tuned values: what one published reproduction does. */
    AVERAGE("average"),
    /** W0 + scale * sum of task vectors, with --scale. */
    TASK_ARITHMETIC("task-arithmetic");

    private final String cliName;

    RestPolicy(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    public static RestPolicy parse(String s) {
        String n = s.trim().toLowerCase(Locale.ROOT);
        for (RestPolicy p : values()) {
            if (p.cliName.equals(n)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown --rest '" + s + "' (choose base, average or task-arithmetic)");
    }
}
