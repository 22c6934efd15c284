package dev.wudi.method;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Placement;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.lora.LoraTensor;
import dev.wudi.lora.LowRankWudi;
import dev.wudi.model.Layout;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralSolver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * WUDI on one matrix whose task vectors are all LoRA factors (exact, flow and spectral solvers): solved in the span of
 * the adapters' factors ({@link LowRankWudi}) where the placement puts it, then W_0 + s tau_m, or under --scale auto
 * the choice of {@link CoverageRule} (a fraction of the models' average written in the same factors), in the stored
 * orientation.
 */
final class FactoredWudi {

    private final Backend backend;
    private final Placement placement;
    private final SolverSpec solver;
    private final float scale;
    private final boolean scaleAuto;
    private final Consumer<String> notes;

    /** @param notes told the placement's note for each matrix (null where it has none); says each one once */
    FactoredWudi(Backend backend, Placement placement, SolverSpec solver, float scale, boolean scaleAuto,
                 Consumer<String> notes) {
        this.backend = backend;
        this.placement = placement;
        this.solver = solver;
        this.scale = scale;
        this.scaleAuto = scaleAuto;
        this.notes = notes;
    }

    /** The task vectors of one matrix as LoRA factors: those given, and the models (indices) that leave it as it is. */
    record Factors(List<LowRankWudi.Factors> factors, List<Integer> factorModels, List<Integer> untouched) {
    }

    /**
     * The job's task vectors as factors, where every model is a LoRA adapter that adapts this weight or leaves it
     * as it is, and the factors are smaller than the matrix; else null (the dense path).
     */
    static Factors factorsOf(TensorJob job, Layout.Matrices m) throws IOException {
        List<LowRankWudi.Factors> factors = new ArrayList<>();
        List<Integer> factorModels = new ArrayList<>();
        List<Integer> untouched = new ArrayList<>();
        for (int i = 0; i < job.models().size(); i++) {
            TensorRef ref = job.models().get(i);
            if (ref == job.base()) {
                untouched.add(i);                        // an adapter that does not adapt this weight: tau_i = 0
                continue;
            }
            if (ref.deltaOver(job.base()) == null || !(ref.computed() instanceof LoraTensor lora)) {
                return null;
            }
            float[][] pq = lora.paperFactors(m.transposed());
            factors.add(new LowRankWudi.Factors(pq[0], pq[1], lora.module().rank(), lora.module().scaling()));
            factorModels.add(i);
        }
        if (factors.isEmpty() || !LowRankWudi.worthIt(factors, Math.toIntExact(m.cols()))) {
            return null;
        }
        return new Factors(factors, factorModels, untouched);
    }

    /**
     * Exact, flow and spectral on LoRA factors ({@link LowRankWudi}): one eigendecomposition of the [R, R] matrix in
     * the span of the adapters' factors instead of [in, in]; the result equals the dense computation's.
     */
    TensorOutcome apply(TensorJob job, TensorSink sink, Layout.Matrices m, Factors low) throws IOException {
        int rows = Math.toIntExact(m.rows());
        int cols = Math.toIntExact(m.cols());
        Placement.Placed where = placement.forLowRank(backend);
        notes.accept(where.note());
        LowRankWudi.Solution solved = where.backend().solveLowRank(rows, cols, low.factors(),
                SpectralSolver.filterOf(solver));
        boolean allZero = solved.zeroTasks().size() + low.untouched().size() == job.models().size();
        CoverageRule.Choice choice = scaleAuto && !allZero ? CoverageRule.decide(solved.used(), cols) : null;
        LowRankWudi.Solution s = choice != null && choice.average()
                ? LowRankWudi.sumTimes(solved, low.factors(), choice.onSum(job.models().size()))
                : solved.scaled(scale);                  // s tau_m = (s x) U^T: still exact in factors
        float[] merged = s.dense();
        float[] w0 = WudiRule.readPaperOrientation(job.base(), rows, cols, m.transposed());
        for (int j = 0; j < merged.length; j++) {
            merged[j] += w0[j];                          // W = W_0 + s tau_m
        }
        if (m.transposed()) {
            float[] stored = new float[merged.length];
            Transpose.of(merged, rows, cols, stored);    // back to the stored [in, out]
            merged = stored;
        }
        sink.writeFloats(merged, 0, merged.length);
        List<Integer> zeros = new ArrayList<>(low.untouched());
        s.zeroTasks().forEach(k -> zeros.add(low.factorModels().get(k)));
        Collections.sort(zeros);
        Map<String, Double> details = new LinkedHashMap<>();
        if (allZero) {
            details.put("all_task_vectors_zero", 1.0);
        }
        details.put("filter_param", s.param());
        details.put("rank_used", (double) s.used());
        details.put("eigen_seconds", s.eigenSeconds());
        details.put("lora_rank", (double) s.r());
        if (choice != null) {
            choice.record(details);
        } else if (!scaleAuto) {
            HarmSignals.coverage(solved.used(), cols, job.models().size() - zeros.size(), details);
        }
        return new TensorOutcome(s.lossBefore(), s.lossAfter(), details, zeros, s);
    }
}
