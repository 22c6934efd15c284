package dev.wudi.merge;

import java.util.Map;

/**
 * One line of the merge report: what was done to a tensor, its interference loss and time taken, and
 * what the solver decided for it (empty for element-wise rules).
 */
public record TensorRecord(String name, String method, long[] shape, String dtype, double lossBefore,
                           double lossAfter, double seconds, Map<String, Double> details) {

    public TensorRecord {
        details = Map.copyOf(details);
    }

    public TensorRecord(String name, String method, long[] shape, String dtype, double lossBefore, double lossAfter,
                        double seconds) {
        this(name, method, shape, dtype, lossBefore, lossAfter, seconds, Map.of());
    }
}
