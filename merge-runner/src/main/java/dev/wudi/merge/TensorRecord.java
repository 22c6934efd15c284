package dev.wudi.merge;

import java.util.List;
import java.util.Map;

/**
 * One line of the merge report: what was done to a tensor, its interference loss and time taken, what the
 * solver decided for it (empty for element-wise rules), and how the models took part.
 *
 * @param role            what the tensor is (linear, embedding, head, norm, bias, buffer, other)
 * @param layout          how its matrices lie (out-in, in-out, experts-out-in, ...; "vector" for 1-D)
 * @param leftOut         models that did not take part, each "model K: why"
 * @param zeroTaskVectors 1-based numbers of the models whose task vector was exactly zero here (left out of
 *                        WUDI's loss: weight 1/||tau||^2 would be infinite)
 */
public record TensorRecord(String name, String method, long[] shape, String dtype, double lossBefore,
                           double lossAfter, double seconds, Map<String, Double> details, String role, String layout,
                           List<String> leftOut, List<Integer> zeroTaskVectors) {

    public TensorRecord {
        details = Map.copyOf(details);
        leftOut = List.copyOf(leftOut);
        zeroTaskVectors = List.copyOf(zeroTaskVectors);
    }

    public TensorRecord(String name, String method, long[] shape, String dtype, double lossBefore, double lossAfter,
                        double seconds, Map<String, Double> details) {
        this(name, method, shape, dtype, lossBefore, lossAfter, seconds, details, "", "", List.of(), List.of());
    }

    public TensorRecord(String name, String method, long[] shape, String dtype, double lossBefore, double lossAfter,
                        double seconds) {
        this(name, method, shape, dtype, lossBefore, lossAfter, seconds, Map.of());
    }
}
