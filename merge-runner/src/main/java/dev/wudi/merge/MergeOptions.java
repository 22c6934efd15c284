package dev.wudi.merge;

import dev.wudi.format.DType;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Everything a merge needs to know. Method parameters left null take the method's defaults.
 *
 * @param outDType   null: follow the base's dtype tensor by tensor
 * @param shardBytes shard size limit for a folder output
 * @param threads    CPU threads (0 = all cores)
 * @param solver     WUDI's solver; null: Adam with {@code adam} (the paper's)
 * @param autoLr     null: Adam's lr is {@code adam.lr()}; else decided per tensor from its task vectors
 */
public record MergeOptions(Path base, List<Path> models, Path out, MergeMethod method, Double scale,
                           Double density, AdamConfig adam, Pattern include, Pattern exclude, RestPolicy rest,
                           DType outDType, long shardBytes, int threads, boolean force, SolverSpec solver,
                           AutoLr autoLr) {

    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;

    public MergeOptions(Path base, List<Path> models, Path out, MergeMethod method, Double scale, Double density,
                        AdamConfig adam, Pattern include, Pattern exclude, RestPolicy rest, DType outDType,
                        long shardBytes, int threads, boolean force) {
        this(base, models, out, method, scale, density, adam, include, exclude, rest, outDType, shardBytes, threads,
                force, null, null);
    }

    public MergeOptions {
        models = List.copyOf(models);
        if (models.isEmpty()) {
            throw new IllegalArgumentException("at least one --model is needed");
        }
    }

    /** Defaults for everything but the paths: WUDI with the paper's Adam, rest = base. */
    public static MergeOptions defaults(Path base, List<Path> models, Path out) {
        return new MergeOptions(base, models, out, MergeMethods.WUDI, null, null, AdamConfig.paper(), null, null,
                RestPolicy.BASE, null, DEFAULT_SHARD_BYTES, 0, false);
    }

    public MergeOptions withMethod(MergeMethod m) {
        return new MergeOptions(base, models, out, m, scale, density, adam, include, exclude, rest, outDType,
                shardBytes, threads, force, solver, autoLr);
    }

    public MergeOptions withAdam(AdamConfig a) {
        return new MergeOptions(base, models, out, method, scale, density, a, include, exclude, rest, outDType,
                shardBytes, threads, force, solver, autoLr);
    }

    public MergeOptions withScale(Double s) {
        return new MergeOptions(base, models, out, method, s, density, adam, include, exclude, rest, outDType,
                shardBytes, threads, force, solver, autoLr);
    }

    public MergeOptions withShardBytes(long b) {
        return new MergeOptions(base, models, out, method, scale, density, adam, include, exclude, rest, outDType,
                b, threads, force, solver, autoLr);
    }

    public MergeOptions withOutDType(DType d) {
        return new MergeOptions(base, models, out, method, scale, density, adam, include, exclude, rest, d,
                shardBytes, threads, force, solver, autoLr);
    }

    public MergeOptions withRest(RestPolicy r) {
        return new MergeOptions(base, models, out, method, scale, density, adam, include, exclude, r, outDType,
                shardBytes, threads, force, solver, autoLr);
    }

    public MergeOptions withForce(boolean f) {
        return new MergeOptions(base, models, out, method, scale, density, adam, include, exclude, rest, outDType,
                shardBytes, threads, f, solver, autoLr);
    }

    public MergeOptions withSolver(SolverSpec s) {
        return new MergeOptions(base, models, out, method, scale, density, adam, include, exclude, rest, outDType,
                shardBytes, threads, force, s, autoLr);
    }

    public MergeOptions withAutoLr(AutoLr a) {
        return new MergeOptions(base, models, out, method, scale, density, adam, include, exclude, rest, outDType,
                shardBytes, threads, force, solver, a);
    }

    /** The solver WUDI runs: --solver as given, else Adam with the --lr/--iters/betas/eps settings. */
    public SolverSpec effectiveSolver() {
        return solver != null ? solver : new SolverSpec.Adam(adam);
    }

    /** --scale as given, else the method's default, else task arithmetic's 0.3 (for --rest). */
    public double effectiveScale() {
        if (scale != null) {
            return scale;
        }
        return method.hasParam("scale") ? method.defaultOf("scale")
                : MergeMethods.TASK_ARITHMETIC.defaultOf("scale");
    }

    public double effectiveDensity() {
        return density != null ? density : MergeMethods.TIES.defaultOf("density");
    }

    public TensorSelection selection() {
        return new TensorSelection(method.defaultScope(), include, exclude, method == MergeMethods.WUDI);
    }
}
