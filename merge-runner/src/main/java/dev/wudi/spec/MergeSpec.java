package dev.wudi.spec;

import dev.wudi.format.DType;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.model.LayoutOverride;
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
 * @param layouts    --layout overrides of the layout rules, first match wins
 * @param heads      task heads the base lacks or has in another shape
 * @param vocab      vocabularies grown by added tokens
 * @param card       the README.md model card of a folder output
 * @param command    the command line that ran this merge, for the model card; null: one is written out from
 *                   these options
 * @param asAdapter  null: the output is a full model; else a PEFT LoRA adapter folder (every model must be one)
 * @param parameters per-tensor method parameters (global and per model) from a merge config; NONE for the CLI's
 * @param lossScoring whether a method other than WUDI reports WUDI's interference loss of its result
 */
public record MergeSpec(Path base, List<Path> models, Path out, MergeMethod method, Double scale,
                           Double density, AdamConfig adam, Pattern include, Pattern exclude, RestPolicy rest,
                           DType outDType, long shardBytes, int threads, boolean force, SolverSpec solver,
                           AutoLr autoLr, List<LayoutOverride> layouts, HeadPolicy heads, VocabPolicy vocab,
                           CardPolicy card, String command, AdapterOptions asAdapter,
                           dev.wudi.method.ParameterSource parameters, LossScoring lossScoring) {

    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;


    public MergeSpec {
        models = List.copyOf(models);
        layouts = List.copyOf(layouts);
        parameters = parameters == null ? dev.wudi.method.ParameterSource.NONE : parameters;
        lossScoring = lossScoring == null ? LossScoring.AUTO : lossScoring;
        if (models.isEmpty()) {
            throw new IllegalArgumentException("at least one --model is needed");
        }
    }

    /** Defaults for everything but the paths: WUDI with the paper's Adam, rest = base. */
    public static MergeSpec defaults(Path base, List<Path> models, Path out) {
        return builder(base, models, out).build();
    }

    public MergeSpec withMethod(MergeMethod m) {
        return toBuilder().method(m).build();
    }

    public MergeSpec withAdam(AdamConfig a) {
        return toBuilder().adam(a).build();
    }

    public MergeSpec withScale(Double s) {
        return toBuilder().scale(s).build();
    }

    public MergeSpec withShardBytes(long b) {
        return toBuilder().shardBytes(b).build();
    }

    public MergeSpec withOutDType(DType d) {
        return toBuilder().outDType(d).build();
    }

    public MergeSpec withRest(RestPolicy r) {
        return toBuilder().rest(r).build();
    }

    public MergeSpec withForce(boolean f) {
        return toBuilder().force(f).build();
    }

    public MergeSpec withSolver(SolverSpec s) {
        return toBuilder().solver(s).build();
    }

    public MergeSpec withAutoLr(AutoLr a) {
        return toBuilder().autoLr(a).build();
    }

    public Builder toBuilder() {
        return copyInto(new Builder(base, models, out));
    }

    /** The same merge of other copies of its inputs, into another output (a task's local copies of remote files). */
    public MergeSpec withPaths(Path base, List<Path> models, Path out) {
        return copyInto(new Builder(base, models, out)).build();
    }

    private Builder copyInto(Builder b) {
        b.method = method;
        b.scale = scale;
        b.density = density;
        b.adam = adam;
        b.include = include;
        b.exclude = exclude;
        b.rest = rest;
        b.outDType = outDType;
        b.shardBytes = shardBytes;
        b.threads = threads;
        b.force = force;
        b.solver = solver;
        b.autoLr = autoLr;
        b.layouts = layouts;
        b.heads = heads;
        b.vocab = vocab;
        b.card = card;
        b.command = command;
        b.asAdapter = asAdapter;
        b.parameters = parameters;
        b.lossScoring = lossScoring;
        return b;
    }

    /** Starts from {@link #defaults}: WUDI with the paper's Adam, rest = base, 5 GB shards, all cores. */
    public static Builder builder(Path base, List<Path> models, Path out) {
        return new Builder(base, models, out);
    }

    /** Mutable options, one setter per field; {@link #build()} validates. */
    public static final class Builder {
        private final Path base;
        private final List<Path> models;
        private final Path out;
        private MergeMethod method = MergeMethods.WUDI;
        private Double scale;
        private Double density;
        private AdamConfig adam = AdamConfig.paper();
        private Pattern include;
        private Pattern exclude;
        private RestPolicy rest = RestPolicy.BASE;
        private DType outDType;
        private long shardBytes = DEFAULT_SHARD_BYTES;
        private int threads;
        private boolean force;
        private SolverSpec solver;
        private AutoLr autoLr;
        private List<LayoutOverride> layouts = List.of();
        private HeadPolicy heads = HeadPolicy.AUTO;
        private VocabPolicy vocab = VocabPolicy.EXTEND;
        private CardPolicy card = CardPolicy.AUTO;
        private LossScoring lossScoring = LossScoring.AUTO;
        private String command;
        private AdapterOptions asAdapter;
        private dev.wudi.method.ParameterSource parameters = dev.wudi.method.ParameterSource.NONE;

        private Builder(Path base, List<Path> models, Path out) {
            this.base = base;
            this.models = models;
            this.out = out;
        }

        public Builder method(MergeMethod v) {
            method = v;
            return this;
        }

        public Builder scale(Double v) {
            scale = v;
            return this;
        }

        public Builder density(Double v) {
            density = v;
            return this;
        }

        public Builder adam(AdamConfig v) {
            adam = v;
            return this;
        }

        public Builder include(Pattern v) {
            include = v;
            return this;
        }

        public Builder exclude(Pattern v) {
            exclude = v;
            return this;
        }

        public Builder rest(RestPolicy v) {
            rest = v;
            return this;
        }

        public Builder outDType(DType v) {
            outDType = v;
            return this;
        }

        public Builder shardBytes(long v) {
            shardBytes = v;
            return this;
        }

        public Builder threads(int v) {
            threads = v;
            return this;
        }

        public Builder force(boolean v) {
            force = v;
            return this;
        }

        public Builder solver(SolverSpec v) {
            solver = v;
            return this;
        }

        public Builder autoLr(AutoLr v) {
            autoLr = v;
            return this;
        }

        public Builder layouts(List<LayoutOverride> v) {
            layouts = v;
            return this;
        }

        public Builder heads(HeadPolicy v) {
            heads = v;
            return this;
        }

        public Builder vocab(VocabPolicy v) {
            vocab = v;
            return this;
        }

        public Builder card(CardPolicy v) {
            card = v;
            return this;
        }

        public Builder command(String v) {
            command = v;
            return this;
        }

        /** Write a LoRA adapter instead of a full model (null: a full model). */
        public Builder asAdapter(AdapterOptions v) {
            asAdapter = v;
            return this;
        }

        /** Per-tensor method parameters (a merge config's); NONE: the rules' own. */
        public Builder parameters(dev.wudi.method.ParameterSource v) {
            parameters = v;
            return this;
        }

        /** Whether a method other than WUDI reports WUDI's interference loss of its result (default auto). */
        public Builder lossScoring(LossScoring v) {
            lossScoring = v;
            return this;
        }

        public MergeSpec build() {
            return new MergeSpec(base, models, out, method, scale, density, adam, include, exclude, rest, outDType,
                    shardBytes, threads, force, solver, autoLr, layouts, heads, vocab, card, command, asAdapter,
                    parameters, lossScoring);
        }
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

    /** --density as given, else the method's default (ties 0.2, the sparse methods 1), else ties'. */
    public double effectiveDensity() {
        if (density != null) {
            return density;
        }
        return method.hasParam("density") ? method.defaultOf("density") : MergeMethods.TIES.defaultOf("density");
    }
}
