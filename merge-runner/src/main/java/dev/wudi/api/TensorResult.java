package dev.wudi.api;

import java.util.List;
import java.util.Map;

/**
 * What a merge did to one tensor.
 *
 * @param name       the tensor's name in the output
 * @param method     what produced it: "wudi", another method's name, or "base" / "model K" for a copied tensor
 * @param shape      its shape in the output
 * @param dtype      its dtype in the output ("F32", "BF16", ...)
 * @param lossBefore WUDI's interference loss at tau_m = sum_i tau_i; NaN where none applies
 * @param lossAfter  the loss at the merge's tau_m; NaN where none applies
 * @param seconds    wall time spent on the tensor
 * @param details    what the solver decided (keys as in the JSON report: "lr", "filter_param", "rank_used", ...)
 */
public record TensorResult(String name, String method, List<Long> shape, String dtype, double lossBefore,
                           double lossAfter, double seconds, Map<String, Double> details) {

    /**
     * Copies the collections given, so that the record is immutable.
     *
     * @param name the tensor's name
     * @param method what produced it
     * @param shape its shape
     * @param dtype its dtype
     * @param lossBefore the loss before, or NaN
     * @param lossAfter the loss after, or NaN
     * @param seconds wall time
     * @param details the solver's decisions
     */
    public TensorResult {
        shape = List.copyOf(shape);
        details = Map.copyOf(details);
    }

    /**
     * Whether the tensor has an interference loss (optimised by WUDI, or scored for another method).
     *
     * @return true when lossBefore is a number
     */
    public boolean hasLoss() {
        return !Double.isNaN(lossBefore);
    }
}
