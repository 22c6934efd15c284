package dev.wudi.merge;

/** One line of the merge report: what was done to a tensor, its interference loss and time taken. */
public record TensorRecord(String name, String method, long[] shape, String dtype, double lossBefore,
                           double lossAfter, double seconds) {
}
