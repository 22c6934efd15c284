package dev.wudi.spec;

import dev.wudi.backend.cuda.Precision;
import dev.wudi.checkpoint.ShardPlan;
import dev.wudi.format.DType;
import dev.wudi.method.CoverageRule;
import dev.wudi.method.FixedParameters;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.ParameterSource;
import dev.wudi.model.LayoutOverride;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One merge, described once and checked once: its inputs and output, and the value of every option of
 * {@link OptionTable} as given (text, as the command line, the Java API or a mergekit config gave it), with per-tensor
 * parameters where a config gives them. Building one parses every value, checks its range and checks that every option
 * given applies to this merge, so each surface gets the same checks and the same words; the typed accessors give the
 * values with their defaults applied. A spec is immutable, and {@link #given()} with the inputs is all it is made of,
 * so it travels as text (to a cluster's executors) and reads back the same.
 */
public final class MergeSpec {

    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;

    private final Path base;
    private final List<Path> models;
    private final Path out;
    private final Map<MergeOption, List<String>> given;
    private final ParameterSource parameters;
    private final String command;
    private final ConfigSource config;
    private final boolean baseStandsIn;

    /** The given options read as values. */
    private final OptionValues values;

    private final MergeMethod method;
    private final Double scale;
    private final boolean scaleAuto;
    private final boolean wudiDefault;
    private final Double density;
    private final AdamConfig adam;
    private final AutoLr autoLr;
    private final SolverSpec solver;
    private final Pattern include;
    private final Pattern exclude;
    private final RestPolicy rest;
    private final List<LayoutOverride> layouts;
    private final DType outDType;
    private final long shardBytes;
    private final HeadPolicy heads;
    private final VocabPolicy vocab;
    private final CardPolicy card;
    private final AdapterOptions asAdapter;
    private final LossScoring lossScoring;
    private final int threads;
    private final boolean tf32;

    /**
     * What a mergekit config adds beyond options: the config as run (written to the output as mergekit_config.yml),
     * its tokenizer_source (null where it gives none: --vocab decides), and the chat template.
     */
    public record ConfigSource(String normalizedYaml, TokenizerSource tokenizer, String chatTemplate) {
    }

    MergeSpec(MergeSpecBuilder b, boolean checkApplicable) {
        this.base = b.base;
        this.models = List.copyOf(b.models);
        this.out = b.out;
        Map<MergeOption, List<String>> g = new LinkedHashMap<>();
        for (MergeOption o : OptionTable.ALL) {           // in table order, whatever order they were given in
            if (b.given.containsKey(o)) {
                g.put(o, List.copyOf(b.given.get(o)));
            }
        }
        this.given = Collections.unmodifiableMap(g);
        this.command = b.command;
        this.config = b.config;
        this.baseStandsIn = b.baseStandsIn;
        if (models.isEmpty()) {
            throw new OptionException("at least one --model is needed");
        }
        OptionValues v = new OptionValues(given);
        this.values = v;
        this.method = v.parse(OptionTable.METHOD, MergeMethods::byName);
        String scaleText = v.text(OptionTable.SCALE);
        boolean autoScale = scaleText != null && scaleText.trim().equalsIgnoreCase("auto");
        this.scale = autoScale ? null : v.number(OptionTable.SCALE, ParameterRange.FINITE);
        this.density = v.number(OptionTable.DENSITY, ParameterRange.DENSITY);
        this.autoLr = v.parse(OptionTable.LR, AutoLr::parse);
        AdamConfig paper = AdamConfig.paper();
        Float fixedLr = autoLr != null ? null : v.parse(OptionTable.LR, OptionValues::parseLr);
        float lr = fixedLr == null ? paper.lr() : fixedLr;
        float beta1 = v.floatOf(OptionTable.BETA1, paper.beta1());
        float beta2 = v.floatOf(OptionTable.BETA2, paper.beta2());
        float eps = v.floatOf(OptionTable.EPS, paper.eps());
        int iters = v.intOf(OptionTable.ITERS, paper.iterations());
        try {
            this.adam = new AdamConfig(lr, beta1, beta2, eps, iters);
        } catch (IllegalArgumentException e) {
            throw new OptionException(e.getMessage());    // "lr must be a positive number, got Infinity"
        }
        this.solver = given.containsKey(OptionTable.SOLVER) || given.keySet().stream().anyMatch(
                o -> o.group() == MergeOption.Group.SOLVER) ? v.solverSpec(adam) : null;
        // no solver option at all: the default merge (CoverageRule), else the solver's own answer as the options say
        this.wudiDefault = solver == null && (method == null || method == MergeMethods.WUDI);
        this.scaleAuto = autoScale || (wudiDefault && scale == null);
        this.include = v.parse(OptionTable.INCLUDE, OptionValues::regex);
        this.exclude = v.parse(OptionTable.EXCLUDE, OptionValues::regex);
        this.rest = v.parse(OptionTable.REST, RestPolicy::parse);
        List<LayoutOverride> l = new ArrayList<>();
        for (String t : given.getOrDefault(OptionTable.LAYOUT, List.of())) {
            l.add(OptionValues.parseValue(OptionTable.LAYOUT, t, LayoutOverride::parse));
        }
        this.layouts = List.copyOf(l);
        this.outDType = v.parse(OptionTable.DTYPE, DType::parseUser);
        Long shard = v.parse(OptionTable.SHARD_SIZE, ShardPlan::parseSize);
        this.shardBytes = shard == null ? DEFAULT_SHARD_BYTES : shard;
        this.heads = v.parse(OptionTable.HEADS, HeadPolicy::parse);
        this.vocab = v.parse(OptionTable.VOCAB, VocabPolicy::parse);
        this.card = v.parse(OptionTable.CARD, CardPolicy::parse);
        this.lossScoring = v.parse(OptionTable.INTERFERENCE_LOSS, LossScoring::parse);
        Integer adapterRank = v.parse(OptionTable.ADAPTER_RANK, t -> OptionValues.count(OptionTable.ADAPTER_RANK, t, 1));
        this.asAdapter = v.flag(OptionTable.AS_ADAPTER) ? new AdapterOptions(adapterRank == null ? 0 : adapterRank)
                : null;
        Integer th = v.parse(OptionTable.THREADS, t -> OptionValues.count(OptionTable.THREADS, t, 0));
        this.threads = th == null ? 0 : th;
        String precision = v.text(OptionTable.PRECISION);
        this.tf32 = precision != null && OptionValues.parseValue(OptionTable.PRECISION, precision, Precision::parse)
                == Precision.TF32;
        Long seed = v.parse(OptionTable.SEED, OptionValues::parseLong);
        Double t = v.number(OptionTable.T, ParameterRange.FINITE);
        v.parse(OptionTable.PROGRESS, OptionValues::progress);
        ParameterSource p = b.parameters == null ? ParameterSource.NONE : b.parameters;
        if (p == ParameterSource.NONE && (seed != null || t != null)) {
            p = new FixedParameters(t == null ? Map.of() : Map.of("t", t), seed == null ? 0 : seed);
        }
        this.parameters = p;
        if (checkApplicable) {
            checkApplicable();
        }
        if (autoScale && method() != MergeMethods.WUDI) {
            throw new OptionException("--scale auto applies to wudi; give " + method().name() + " a number");
        }
        if (autoScale && !(effectiveSolver() instanceof SolverSpec.Spectral)) {
            throw new OptionException("--scale auto reads the rank of C from the spectral solver's eigendecomposition:"
                    + " it needs --solver spectral (the default), not " + effectiveSolver().name());
        }
        if (v.flag(OptionTable.RESUME) && asAdapter != null) {
            throw new OptionException("--resume does not apply to --as-adapter: an adapter is written at the end, so"
                    + " an interrupted adapter merge leaves nothing to resume");
        }
    }

    /** The options given that do not apply to this merge. */
    List<MergeOption> inapplicable() {
        List<MergeOption> out = new ArrayList<>();
        for (MergeOption o : given.keySet()) {
            if (!o.applies().test().test(this)) {
                out.add(o);
            }
        }
        return out;
    }

    /** Every option given applies to this merge; the first that does not is named with what it applies to. */
    private void checkApplicable() {
        for (MergeOption o : given.keySet()) {
            if (!o.applies().test().test(this)) {
                throw new OptionException(o.name() + " " + o.applies().why().apply(this));
            }
        }
    }

    // ---------------------------------------------------------------- what was given

    /** Every option given, with its text (several for a repeatable one), in the table's order. */
    public Map<MergeOption, List<String>> given() {
        return given;
    }

    /** Whether the option was given (by any surface). */
    public boolean isGiven(MergeOption o) {
        return given.containsKey(o);
    }

    /** The option's value as given, else its default's text, else null. */
    public String textOrDefault(MergeOption o) {
        String t = values.text(o);
        return t != null ? t : o.defaultText();
    }

    /** --solver as given (lower case); spectral for the default merge (no solver option given), else adam. */
    public String solverName() {
        return wudiDefault ? "spectral" : values.solverName();
    }

    /**
     * Whether this is WUDI's default merge: no solver option given, so the spectral solver with the coverage rule
     * ({@code --scale auto}) and the models' average for the other tensors, where not given otherwise. Any solver
     * option (--solver adam for the paper's) gives that solver's answer at scale 1 with the base's other tensors.
     */
    public boolean wudiDefault() {
        return wudiDefault;
    }

    /**
     * --scale auto, given or the default merge's: per matrix, CoverageRule decides the coefficient (only ever for wudi:
     * given with another method it is refused, and the default merge is wudi's).
     */
    public boolean scaleAuto() {
        return scaleAuto;
    }

    /**
     * The settings that decide this merge's output, each as given, else its default (the spelling the command line
     * takes), in the table's order: the options of the given effects that apply to this merge and have a value
     * (repeatable ones joined by a space). The reproduce command, the report's settings and the resume fingerprint are
     * made from it, so each names an option as the command line does.
     */
    public Map<MergeOption, String> settings(MergeOption.Effect... effects) {
        List<MergeOption.Effect> want = List.of(effects);
        Map<MergeOption, String> m = new LinkedHashMap<>();
        for (MergeOption o : OptionTable.ALL) {
            if (!want.contains(o.effect()) || o.group() == MergeOption.Group.INPUTS || !o.applies().test().test(this)) {
                continue;
            }
            List<String> v = given.get(o);
            if (v != null) {
                m.put(o, String.join(" ", v));
            } else if (o.defaultFor(this) != null && !o.flag()) {
                m.put(o, o.defaultFor(this));
            }
        }
        return m;
    }

    // ---------------------------------------------------------------- the typed view

    public Path base() {
        return base;
    }

    /**
     * Whether the merge has no base of its own: {@link #base()} is then its first model, standing in for the tensor
     * names and layout (a config without base_model), so there are no task vectors to speak of.
     */
    public boolean baseStandsIn() {
        return baseStandsIn;
    }

    public List<Path> models() {
        return models;
    }

    public Path out() {
        return out;
    }

    public MergeMethod method() {
        return method == null ? MergeMethods.WUDI : method;
    }

    /** --scale as given, or null (the method's default: {@link #effectiveScale()}). */
    public Double scale() {
        return scale;
    }

    /** --density as given, or null (the method's default: {@link #effectiveDensity()}). */
    public Double density() {
        return density;
    }

    /** Adam's settings (the paper's where not given; lr 1e-5 under --lr auto, which decides it per tensor). */
    public AdamConfig adam() {
        return adam;
    }

    /** --lr auto[:K], or null. */
    public AutoLr autoLr() {
        return autoLr;
    }

    /** WUDI's solver as given, or null (Adam with {@link #adam()}). */
    public SolverSpec solver() {
        return solver;
    }

    public Pattern include() {
        return include;
    }

    public Pattern exclude() {
        return exclude;
    }

    public RestPolicy rest() {
        return rest != null ? rest : wudiDefault ? RestPolicy.AVERAGE : RestPolicy.BASE;
    }

    public List<LayoutOverride> layouts() {
        return layouts;
    }

    /** The output dtype, or null: the base's, tensor by tensor. */
    public DType outDType() {
        return outDType;
    }

    public long shardBytes() {
        return shardBytes;
    }

    public int threads() {
        return threads;
    }

    public boolean force() {
        return values.flag(OptionTable.FORCE);
    }

    public HeadPolicy heads() {
        return heads == null ? HeadPolicy.AUTO : heads;
    }

    public VocabPolicy vocab() {
        return vocab == null ? VocabPolicy.EXTEND : vocab;
    }

    public CardPolicy card() {
        return card == null ? CardPolicy.AUTO : card;
    }

    /** The command that ran this merge (for the model card), or null: one is written from the spec. */
    public String command() {
        return command;
    }

    /** An adapter output's options, or null for a full model. */
    public AdapterOptions asAdapter() {
        return asAdapter;
    }

    /** Whether the output is a PEFT LoRA adapter. */
    public boolean asAdapterOutput() {
        return asAdapter != null;
    }

    /** Per-tensor method parameters: a config's, else --t and --seed, else none. */
    public ParameterSource parameters() {
        return parameters;
    }

    public LossScoring lossScoring() {
        return lossScoring == null ? LossScoring.AUTO : lossScoring;
    }

    /** What a mergekit config adds, or null where the merge did not come from one. */
    public ConfigSource config() {
        return config;
    }

    /** --device as given, or auto. */
    public String device() {
        return textOrDefault(OptionTable.DEVICE);
    }

    /** --precision tf32. */
    public boolean tf32() {
        return tf32;
    }

    public boolean resume() {
        return values.flag(OptionTable.RESUME);
    }

    public boolean allowNonFinite() {
        return values.flag(OptionTable.ALLOW_NONFINITE);
    }

    public boolean dryRun() {
        return values.flag(OptionTable.DRY_RUN);
    }

    /** --json (the plan as JSON). */
    public boolean json() {
        return values.flag(OptionTable.JSON);
    }

    /** --progress json. */
    public boolean progressJson() {
        return "json".equals(values.text(OptionTable.PROGRESS));
    }

    /** -q / --quiet. */
    public boolean quiet() {
        return values.flag(OptionTable.QUIET);
    }

    /** --report, or null. */
    public Path report() {
        String t = values.text(OptionTable.REPORT);
        return t == null ? null : Path.of(t);
    }

    /** --report-html, or null. */
    public Path reportHtml() {
        String t = values.text(OptionTable.REPORT_HTML);
        return t == null ? null : Path.of(t);
    }

    /** The solver WUDI runs: --solver as given, the default merge's spectral solver, else Adam as configured. */
    public SolverSpec effectiveSolver() {
        if (solver != null) {
            return solver;
        }
        return wudiDefault ? SolverSpec.Spectral.defaults() : new SolverSpec.Adam(adam);
    }

    /**
     * --scale as given, else the method's default, else task arithmetic's 0.3 (for --rest). Under --scale auto,
     * WUDI's coefficient is decided per matrix (CoverageRule); this is then the coefficient where the rule scales.
     */
    public double effectiveScale() {
        if (scale != null) {
            return scale;
        }
        if (scaleAuto()) {
            return CoverageRule.SCALE;
        }
        return method().hasParam("scale") ? method().defaultOf("scale")
                : MergeMethods.TASK_ARITHMETIC.defaultOf("scale");
    }

    /** --density as given, else the method's default (ties 0.2, the sparse methods 1), else ties'. */
    public double effectiveDensity() {
        if (density != null) {
            return density;
        }
        return method().hasParam("density") ? method().defaultOf("density") : MergeMethods.TIES.defaultOf("density");
    }

    // ---------------------------------------------------------------- building

    /** Defaults for everything but the paths: WUDI's default merge (spectral, --scale auto, rest average). */
    public static MergeSpec defaults(Path base, List<Path> models, Path out) {
        return builder(base, models, out).build();
    }

    public static MergeSpecBuilder builder(Path base, List<Path> models, Path out) {
        return new MergeSpecBuilder(base, models, out);
    }

    public MergeSpec withMethod(MergeMethod m) {
        return toBuilder().method(m).buildDropping();
    }

    public MergeSpec withAdam(AdamConfig a) {
        return toBuilder().adam(a).buildDropping();
    }

    public MergeSpec withScale(Double s) {
        return toBuilder().scale(s).buildDropping();
    }

    public MergeSpec withShardBytes(long b) {
        return toBuilder().shardBytes(b).buildDropping();
    }

    public MergeSpec withOutDType(DType d) {
        return toBuilder().outDType(d).buildDropping();
    }

    public MergeSpec withRest(RestPolicy r) {
        return toBuilder().rest(r).buildDropping();
    }

    public MergeSpec withForce(boolean f) {
        return toBuilder().force(f).buildDropping();
    }

    public MergeSpec withSolver(SolverSpec s) {
        return toBuilder().solver(s).buildDropping();
    }

    public MergeSpec withAutoLr(AutoLr a) {
        return toBuilder().autoLr(a).buildDropping();
    }

    /** The same merge of other copies of its inputs, into another output (a task's local copies of remote files). */
    public MergeSpec withPaths(Path base, List<Path> models, Path out) {
        MergeSpecBuilder b = toBuilder();
        b.base = base;
        b.models = List.copyOf(models);
        b.out = out;
        return b.buildDropping();
    }

    public MergeSpecBuilder toBuilder() {
        MergeSpecBuilder b = new MergeSpecBuilder(base, models, out);
        given.forEach((o, v) -> b.given.put(o, new ArrayList<>(v)));
        b.parameters = parameters;
        b.command = command;
        b.config = config;
        b.baseStandsIn = baseStandsIn;
        return b;
    }
}
