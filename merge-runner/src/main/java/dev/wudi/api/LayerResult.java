package dev.wudi.api;

import java.util.List;
import java.util.Map;

/**
 * One merged layer from {@link LayerMerge}.
 *
 * @param merged          the merged weight W_0 + tau_m (or tau_m alone for {@link LayerMerge#mergeTaskVectors}), in
 *                        the layout and shape given, row-major; the caller owns the array
 * @param lossBefore      WUDI's interference loss at tau_m = sum_i tau_i (summed over the matrices of a stack)
 * @param lossAfter       the loss at the solution
 * @param details         what the solver decided ("lr" under auto lr, "filter_param", "rank_used", ...)
 * @param zeroTaskVectors indices (into the fine-tuned list) of models whose task vector was exactly zero here: WUDI
 *                        leaves them out of the loss
 * @param warnings        lines the merge would print (a layer moved from the GPU to the CPU, ...)
 */
public record LayerResult(float[] merged, double lossBefore, double lossAfter, Map<String, Double> details,
                          List<Integer> zeroTaskVectors, List<String> warnings) {

    /**
     * Copies the collections given, so that the record is immutable.
     *
     * @param merged the merged weight (kept, not copied)
     * @param lossBefore the loss at the sum of task vectors
     * @param lossAfter the loss at the solution
     * @param details the solver's decisions
     * @param zeroTaskVectors models with a zero task vector
     * @param warnings the lines the merge would print
     */
    public LayerResult {
        details = Map.copyOf(details);
        zeroTaskVectors = List.copyOf(zeroTaskVectors);
        warnings = List.copyOf(warnings);
    }
}
