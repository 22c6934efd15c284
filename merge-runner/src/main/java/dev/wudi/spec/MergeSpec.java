package dev.wudi.spec;

import dev.wudi.backend.cuda.Precision;
import dev.wudi.checkpoint.ShardPlan;
import dev.wudi.format.DType;
import dev.wudi.method.FixedParameters;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.ParameterSource;
import dev.wudi.model.LayoutOverride;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralFilter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

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

    private final MergeMethod method;
    private final Double scale;
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
     * the folder whose tokenizer the output takes, and the chat template.
     */
    public record ConfigSource(String normalizedYaml, Path tokenizerSource, String chatTemplate) {
    }

    private MergeSpec(Builder b, boolean checkApplicable) {
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
        if (models.isEmpty()) {
            throw new OptionException("at least one --model is needed");
        }
        this.method = parse(OptionTable.METHOD, MergeMethods::byName);
        this.scale = number(OptionTable.SCALE, ParameterRange.FINITE);
        this.density = number(OptionTable.DENSITY, ParameterRange.DENSITY);
        this.autoLr = parse(OptionTable.LR, AutoLr::parse);
        AdamConfig paper = AdamConfig.paper();
        Float fixedLr = autoLr != null ? null : parse(OptionTable.LR, MergeSpec::parseLr);
        float lr = fixedLr == null ? paper.lr() : fixedLr;
        float beta1 = floatOf(OptionTable.BETA1, paper.beta1());
        float beta2 = floatOf(OptionTable.BETA2, paper.beta2());
        float eps = floatOf(OptionTable.EPS, paper.eps());
        int iters = intOf(OptionTable.ITERS, paper.iterations());
        try {
            this.adam = new AdamConfig(lr, beta1, beta2, eps, iters);
        } catch (IllegalArgumentException e) {
            throw new OptionException(e.getMessage());    // "lr must be a positive number, got Infinity"
        }
        this.solver = given.containsKey(OptionTable.SOLVER) || given.keySet().stream().anyMatch(
                o -> o.group() == MergeOption.Group.SOLVER) ? solverSpec() : null;
        this.include = parse(OptionTable.INCLUDE, MergeSpec::regex);
        this.exclude = parse(OptionTable.EXCLUDE, MergeSpec::regex);
        this.rest = parse(OptionTable.REST, RestPolicy::parse);
        List<LayoutOverride> l = new ArrayList<>();
        for (String t : given.getOrDefault(OptionTable.LAYOUT, List.of())) {
            l.add(parseValue(OptionTable.LAYOUT, t, LayoutOverride::parse));
        }
        this.layouts = List.copyOf(l);
        this.outDType = parse(OptionTable.DTYPE, DType::parseUser);
        Long shard = parse(OptionTable.SHARD_SIZE, ShardPlan::parseSize);
        this.shardBytes = shard == null ? DEFAULT_SHARD_BYTES : shard;
        this.heads = parse(OptionTable.HEADS, HeadPolicy::parse);
        this.vocab = parse(OptionTable.VOCAB, VocabPolicy::parse);
        this.card = parse(OptionTable.CARD, CardPolicy::parse);
        this.lossScoring = parse(OptionTable.INTERFERENCE_LOSS, LossScoring::parse);
        Integer adapterRank = parse(OptionTable.ADAPTER_RANK, t -> count(OptionTable.ADAPTER_RANK, t, 1));
        this.asAdapter = flag(OptionTable.AS_ADAPTER) ? new AdapterOptions(adapterRank == null ? 0 : adapterRank)
                : null;
        Integer th = parse(OptionTable.THREADS, t -> count(OptionTable.THREADS, t, 0));
        this.threads = th == null ? 0 : th;
        String precision = text(OptionTable.PRECISION);
        this.tf32 = precision != null && parseValue(OptionTable.PRECISION, precision, Precision::parse)
                == Precision.TF32;
        Long seed = parse(OptionTable.SEED, MergeSpec::parseLong);
        Double t = number(OptionTable.T, ParameterRange.FINITE);
        parse(OptionTable.PROGRESS, MergeSpec::progress);
        ParameterSource p = b.parameters == null ? ParameterSource.NONE : b.parameters;
        if (p == ParameterSource.NONE && (seed != null || t != null)) {
            p = new FixedParameters(t == null ? Map.of() : Map.of("t", t), seed == null ? 0 : seed);
        }
        this.parameters = p;
        if (checkApplicable) {
            checkApplicable();
        }
        if (flag(OptionTable.RESUME) && asAdapter != null) {
            throw new OptionException("--resume does not apply to --as-adapter: an adapter is written at the end, so"
                    + " an interrupted adapter merge leaves nothing to resume");
        }
    }

    // ---------------------------------------------------------------- parsing

    private String text(MergeOption o) {
        List<String> v = given.get(o);
        return v == null || v.isEmpty() ? null : v.get(v.size() - 1);
    }

    private boolean flag(MergeOption o) {
        String v = text(o);
        return v != null && !v.equals("false");
    }

    private interface Parser<T> {
        T parse(String text);
    }

    /** The given value of o parsed, or null where it was not given; a bad value names the option. */
    private <T> T parse(MergeOption o, Parser<T> p) {
        String t = text(o);
        return t == null ? null : parseValue(o, t, p);
    }

    private static <T> T parseValue(MergeOption o, String t, Parser<T> p) {
        try {
            return p.parse(t);
        } catch (OptionException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            String m = e.getMessage() == null ? "" : e.getMessage();
            throw new OptionException(m.contains(o.name()) ? m : o.name() + " " + t + ": " + m);
        }
    }

    private Double number(MergeOption o, ParameterRange range) {
        String t = text(o);
        if (t == null) {
            return null;
        }
        double v = parseValue(o, t, MergeSpec::parseDouble);
        String problem = range.problem(v);
        if (problem != null) {
            throw new OptionException(o.name() + " " + problem + ", got " + t);
        }
        return v;
    }

    private float floatOf(MergeOption o, float otherwise) {
        String t = text(o);
        return t == null ? otherwise : parseValue(o, t, s -> (float) parseDouble(s));
    }

    private int intOf(MergeOption o, int otherwise) {
        String t = text(o);
        return t == null ? otherwise : parseValue(o, t, s -> count(o, s, Integer.MIN_VALUE));
    }

    private static double parseDouble(String s) {
        try {
            return Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not a number");
        }
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not an integer");
        }
    }

    private static int count(MergeOption o, String s, int min) {
        long v;
        try {
            v = Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not an integer");
        }
        if (v < min || v > Integer.MAX_VALUE) {
            throw new OptionException(o.name() + " must be " + (min == Integer.MIN_VALUE ? "an integer"
                    : min == 0 ? "an integer >= 0" : "an integer >= " + min) + " up to " + Integer.MAX_VALUE
                    + ", got " + s);
        }
        return (int) v;
    }

    private static float parseLr(String s) {
        try {
            return Float.parseFloat(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--lr " + s + " is neither a number nor auto / auto:FACTOR");
        }
    }

    private static Pattern regex(String s) {
        try {
            return Pattern.compile(s);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("invalid regular expression '" + s + "': " + e.getDescription());
        }
    }

    private static String progress(String s) {
        if (!s.equals("auto") && !s.equals("json")) {
            throw new OptionException("--progress takes auto or json, not " + s);
        }
        return s;
    }

    /** The solver --solver and its options name. */
    private SolverSpec solverSpec() {
        String name = solverName();
        Double ridge = number(OptionTable.RIDGE, ParameterRange.NON_NEGATIVE);
        Double flowTime = number(OptionTable.FLOW_TIME, ParameterRange.NON_NEGATIVE);
        Double filterParam = number(OptionTable.FILTER_PARAM, ParameterRange.POSITIVE);
        Double cutoff = number(OptionTable.CUTOFF, ParameterRange.POSITIVE);
        Integer rank = parse(OptionTable.RANK, t -> count(OptionTable.RANK, t, 0));
        SpectralFilter.Kind filter = parse(OptionTable.FILTER, SpectralFilter.Kind::parse);
        return parseValue(OptionTable.SOLVER, name, n -> switch (n) {
            case "adam" -> new SolverSpec.Adam(adam);
            case "exact" -> new SolverSpec.Exact(ridge == null ? 0 : ridge);
            case "flow" -> flowTime == null && cutoff != null
                    ? new SolverSpec.Spectral(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0, cutoff)
                    : new SolverSpec.Flow(flowTime == null ? Double.NaN : flowTime);
            case "spectral" -> new SolverSpec.Spectral(filter == null ? SpectralFilter.Kind.EXPONENTIAL : filter,
                    filterParam == null ? Double.NaN : filterParam, rank == null ? 0 : rank,
                    cutoff == null ? Double.NaN : cutoff);
            default -> throw new IllegalArgumentException("unknown --solver '" + n + "' (choose from adam, exact,"
                    + " flow, spectral)");
        });
    }

    /** The options given that do not apply to this merge. */
    private List<MergeOption> inapplicable() {
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
        String t = text(o);
        return t != null ? t : o.defaultText();
    }

    /** --solver as given (lower case), or adam. */
    public String solverName() {
        String t = text(OptionTable.SOLVER);
        return t == null ? "adam" : t.trim().toLowerCase(Locale.ROOT);
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
        return rest == null ? RestPolicy.BASE : rest;
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
        return flag(OptionTable.FORCE);
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
        return flag(OptionTable.RESUME);
    }

    public boolean allowNonFinite() {
        return flag(OptionTable.ALLOW_NONFINITE);
    }

    public boolean dryRun() {
        return flag(OptionTable.DRY_RUN);
    }

    /** --json (the plan as JSON). */
    public boolean json() {
        return flag(OptionTable.JSON);
    }

    /** --progress json. */
    public boolean progressJson() {
        return "json".equals(text(OptionTable.PROGRESS));
    }

    /** -q / --quiet. */
    public boolean quiet() {
        return flag(OptionTable.QUIET);
    }

    /** --report, or null. */
    public Path report() {
        String t = text(OptionTable.REPORT);
        return t == null ? null : Path.of(t);
    }

    /** --report-html, or null. */
    public Path reportHtml() {
        String t = text(OptionTable.REPORT_HTML);
        return t == null ? null : Path.of(t);
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

    /** Defaults for everything but the paths: WUDI with the paper's Adam, rest = base. */
    public static MergeSpec defaults(Path base, List<Path> models, Path out) {
        return builder(base, models, out).build();
    }

    public static Builder builder(Path base, List<Path> models, Path out) {
        return new Builder(base, models, out);
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
        Builder b = toBuilder();
        b.base = base;
        b.models = List.copyOf(models);
        b.out = out;
        return b.buildDropping();
    }

    public Builder toBuilder() {
        Builder b = new Builder(base, models, out);
        given.forEach((o, v) -> b.given.put(o, new ArrayList<>(v)));
        b.parameters = parameters;
        b.command = command;
        b.config = config;
        return b;
    }

    /**
     * A spec being described: options set as text ({@link #set}) by a parser, or through the typed setters by Java
     * code; {@link #build()} checks everything.
     */
    public static final class Builder {
        private Path base;
        private List<Path> models;
        private Path out;
        private final Map<MergeOption, List<String>> given = new LinkedHashMap<>();
        private ParameterSource parameters;
        private String command;
        private ConfigSource config;

        private Builder(Path base, List<Path> models, Path out) {
            this.base = base;
            this.models = models == null ? List.of() : List.copyOf(models);
            this.out = out;
        }

        /** Sets option o to the text given (for a repeatable option: adds it), or clears it where text is null. */
        public Builder set(MergeOption o, String text) {
            if (text == null) {
                given.remove(o);
            } else if (o.repeatable()) {
                given.computeIfAbsent(o, k -> new ArrayList<>()).add(text);
            } else {
                given.put(o, new ArrayList<>(List.of(text)));
            }
            return this;
        }

        /** Sets a flag option on (or clears it). */
        public Builder flag(MergeOption o, boolean on) {
            return set(o, on ? "true" : null);
        }

        /** Whether option o is set here. */
        public boolean isSet(MergeOption o) {
            return given.containsKey(o);
        }

        public Builder method(MergeMethod v) {
            return set(OptionTable.METHOD, v == null ? null : v.name());
        }

        public Builder scale(Double v) {
            return set(OptionTable.SCALE, v == null ? null : String.valueOf(v));
        }

        public Builder density(Double v) {
            return set(OptionTable.DENSITY, v == null ? null : String.valueOf(v));
        }

        /** Adam's five settings. */
        public Builder adam(AdamConfig v) {
            set(OptionTable.LR, String.valueOf(v.lr()));
            set(OptionTable.ITERS, String.valueOf(v.iterations()));
            set(OptionTable.BETA1, String.valueOf(v.beta1()));
            set(OptionTable.BETA2, String.valueOf(v.beta2()));
            return set(OptionTable.EPS, String.valueOf(v.eps()));
        }

        public Builder include(Pattern v) {
            return set(OptionTable.INCLUDE, v == null ? null : flags(v));
        }

        public Builder exclude(Pattern v) {
            return set(OptionTable.EXCLUDE, v == null ? null : flags(v));
        }

        private static String flags(Pattern p) {
            return (p.flags() & Pattern.CASE_INSENSITIVE) != 0 ? "(?i)" + p.pattern() : p.pattern();
        }

        public Builder rest(RestPolicy v) {
            return set(OptionTable.REST, v == null ? null : v.cliName());
        }

        public Builder outDType(DType v) {
            return set(OptionTable.DTYPE, v == null ? null : v.name().toLowerCase(Locale.ROOT));
        }

        public Builder shardBytes(long v) {
            return set(OptionTable.SHARD_SIZE, String.valueOf(v));
        }

        public Builder threads(int v) {
            return set(OptionTable.THREADS, String.valueOf(v));
        }

        public Builder force(boolean v) {
            return flag(OptionTable.FORCE, v);
        }

        /** WUDI's solver and its settings (Adam's included). */
        public Builder solver(SolverSpec v) {
            for (MergeOption o : List.of(OptionTable.RIDGE, OptionTable.FLOW_TIME, OptionTable.FILTER,
                    OptionTable.FILTER_PARAM, OptionTable.CUTOFF, OptionTable.RANK)) {
                given.remove(o);
            }
            if (v == null) {
                return set(OptionTable.SOLVER, null);
            }
            set(OptionTable.SOLVER, v.name());
            if (v instanceof SolverSpec.Adam a) {
                adam(a.config());
            } else if (v instanceof SolverSpec.Exact e && e.ridge() != 0) {
                set(OptionTable.RIDGE, String.valueOf(e.ridge()));
            } else if (v instanceof SolverSpec.Flow f && !Double.isNaN(f.time())) {
                set(OptionTable.FLOW_TIME, String.valueOf(f.time()));
            } else if (v instanceof SolverSpec.Spectral s) {
                if (s.kind() != SpectralFilter.Kind.EXPONENTIAL) {
                    set(OptionTable.FILTER, s.kind().label());
                }
                if (!Double.isNaN(s.param())) {
                    set(OptionTable.FILTER_PARAM, String.valueOf(s.param()));
                }
                if (!Double.isNaN(s.cutoff())) {
                    set(OptionTable.CUTOFF, String.valueOf(s.cutoff()));
                }
                if (s.rank() > 0) {
                    set(OptionTable.RANK, String.valueOf(s.rank()));
                }
            }
            return this;
        }

        /** --lr auto:K (null: the fixed lr). */
        public Builder autoLr(AutoLr v) {
            if (v != null) {
                set(OptionTable.LR, "auto:" + v.factor());
            } else if (given.containsKey(OptionTable.LR) && given.get(OptionTable.LR).get(0).startsWith("auto")) {
                given.remove(OptionTable.LR);
            }
            return this;
        }

        public Builder layouts(List<LayoutOverride> v) {
            given.remove(OptionTable.LAYOUT);
            v.forEach(l -> set(OptionTable.LAYOUT, l.toString()));
            return this;
        }

        public Builder heads(HeadPolicy v) {
            return set(OptionTable.HEADS, v == null ? null : v.cliName());
        }

        public Builder vocab(VocabPolicy v) {
            return set(OptionTable.VOCAB, v == null ? null : v.cliName());
        }

        public Builder card(CardPolicy v) {
            return set(OptionTable.CARD, v == null ? null : v.cliName());
        }

        /** The command as typed, for the model card. */
        public Builder command(String v) {
            command = v;
            return this;
        }

        /** Write a LoRA adapter instead of a full model (null: a full model). */
        public Builder asAdapter(AdapterOptions v) {
            flag(OptionTable.AS_ADAPTER, v != null);
            return set(OptionTable.ADAPTER_RANK, v == null || v.rank() == 0 ? null : String.valueOf(v.rank()));
        }

        /** Per-tensor method parameters (a merge config's); NONE: the rules' own. */
        public Builder parameters(ParameterSource v) {
            parameters = v;
            return this;
        }

        /** What a mergekit config adds. */
        public Builder config(ConfigSource v) {
            config = v;
            return this;
        }

        /** Whether a method other than WUDI reports WUDI's interference loss of its result. */
        public Builder lossScoring(LossScoring v) {
            return set(OptionTable.INTERFERENCE_LOSS, v == null ? null : v.cliName());
        }

        /** Parses, checks ranges and applicability; an {@link OptionException} names what is wrong. */
        public MergeSpec build() {
            return new MergeSpec(this, true);
        }

        /**
         * As {@link #build()}, but options that do not apply to the merge as described (Adam's settings after the
         * solver became exact, a density after the method became average) are dropped instead of refused: what the
         * {@code with...} derivations of a spec use, where the change itself says which settings still hold.
         */
        public MergeSpec buildDropping() {
            while (true) {
                List<MergeOption> drop = new MergeSpec(this, false).inapplicable();
                if (drop.isEmpty()) {
                    return new MergeSpec(this, true);
                }
                drop.forEach(given::remove);
            }
        }
    }
}
