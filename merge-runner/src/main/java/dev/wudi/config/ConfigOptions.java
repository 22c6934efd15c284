package dev.wudi.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.wudi.format.DType;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.RestPolicy;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralFilter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a mergekit config asks for, as this engine's options: the method under mergekit's name and defaults
 * (task_arithmetic's lambda 1, ties' density 1, linear's normalize), every parameter checked against the method's
 * (an unknown one is refused with its line), per-tensor values through {@link ConfigParameters}, and the config as
 * run, every default written out, for the output folder.
 */
public final class ConfigOptions {

    /** Methods mergekit has that this engine does not (yet): named in the refusal. */
    static final Set<String> MERGEKIT_ONLY = Set.of("passthrough", "karcher", "arcee_fusion", "multislerp", "nearswap",
            "sce", "ram", "ramplus_tl");

    /** The WUDI parameters a config may give (mergekit fork's names first), all global scalars. */
    static final Map<String, String> WUDI_NUMBERS = Map.ofEntries(Map.entry("learning_rate", "lr"), Map.entry("lr", "lr"),
            Map.entry("iterations", "iters"), Map.entry("iters", "iters"), Map.entry("beta1", "beta1"),
            Map.entry("beta2", "beta2"), Map.entry("epsilon", "eps"), Map.entry("eps", "eps"),
            Map.entry("ridge", "ridge"), Map.entry("flow_time", "flow_time"), Map.entry("filter_param", "filter_param"),
            Map.entry("rank", "rank"), Map.entry("cutoff", "cutoff"));
    static final Set<String> WUDI_STRINGS = Set.of("solver", "filter", "rest", "include", "exclude", "exclude_regex");

    /** The options, the notes to print, and the config as run. */
    public record Result(MergeSpec.Builder builder, List<String> notes, String normalizedYaml) {
    }

    private ConfigOptions() {
    }

    public static Result of(MergekitConfig c, Path out) throws IOException {
        LocatedYaml doc = c.doc();
        MergeMethod method;
        try {
            method = MergeMethods.byName(c.method());
        } catch (IllegalArgumentException e) {
            String m = c.method().trim().toLowerCase(java.util.Locale.ROOT);
            throw new ConfigException(doc.where("/merge_method") + ": merge_method " + c.method()
                    + (MERGEKIT_ONLY.contains(m) ? " is mergekit's but not supported here yet" : " is unknown")
                    + " (supported: " + mergekitNames() + ")");
        }
        List<String> notes = new ArrayList<>();
        MergeMethod.ConfigParams params = method.config();
        check(c, method, params);
        ConfigChecks.ranges(c, method);
        String chat = chatTemplate(c);

        int count = c.models().size();
        String countProblem = method.modelCountProblem(count, c.parameters().containsKey("t"));
        if (countProblem != null) {
            // the models' count where that alone is wrong, else the parameters the method misses
            boolean countFits = method.modelCountProblem(count, true) == null;
            throw new ConfigException(doc.where(!countFits ? "/models" : doc.root().has("parameters") ? "/parameters"
                    : "/merge_method") + ": " + countProblem);
        }
        Path base;
        List<Path> models = new ArrayList<>();
        if (c.base() != null) {
            if (c.base().lora() != null) {
                throw new ConfigException(doc.where("/base_model") + ": a base model with a LoRA on top ("
                        + c.base().text() + ") is not supported; merge_and_unload it first");
            }
            base = c.base().model();
        } else if (!method.needsBase()) {
            base = c.models().get(0).ref().model();           // no base needed: the first model gives the layout
            notes.add("no base_model: " + base + " gives the tensor names and layout (" + c.method()
                    + " without a base interpolates the models themselves)");
        } else {
            throw new ConfigException(doc.where("/merge_method") + ": " + c.method() + " needs a base_model");
        }
        for (MergekitConfig.ModelEntry e : c.models()) {
            MergekitConfig.ModelRef r = e.ref();
            if (r.lora() == null) {
                models.add(r.model());
            } else if (r.model().toAbsolutePath().normalize().equals(base.toAbsolutePath().normalize())) {
                if (!LoraAdapter.isAdapter(r.lora())) {
                    throw new ConfigException(doc.where(e.pointer() + "/model") + ": " + r.lora() + " is not a PEFT"
                            + " LoRA adapter folder (no " + LoraAdapter.CONFIG + ")");
                }
                models.add(r.lora());                             // the base + an adapter: the adapter as the model
            } else {
                if (!LoraAdapter.isAdapter(r.lora())) {
                    throw new ConfigException(doc.where(e.pointer() + "/model") + ": " + r.lora() + " is not a PEFT"
                            + " LoRA adapter folder (no " + LoraAdapter.CONFIG + ")");
                }
                models.add(Path.of(r.model() + "+" + r.lora()));  // that model with the adapter on top
            }
        }
        List<Map<String, ParamSetting>> perModel = new ArrayList<>();
        c.models().forEach(e -> perModel.add(e.parameters()));
        List<String> baseNames = ConfigChecks.baseNames(base);
        int layers = ConfigChecks.layers(c, base, baseNames);
        Map<String, ParamSetting> globals = new LinkedHashMap<>(c.parameters());
        if (c.base() == null) {
            method.globalsWithoutBase().forEach((k, v) -> globals.put(k, new ParamSetting.Scalar(v)));
        }
        ConfigParameters parameters = new ConfigParameters(globals, perModel, layers,
                c.randomSeed() == null ? 0 : c.randomSeed(), null);
        if (method == MergeMethods.AVERAGE) {
            ConfigChecks.linearWeights(c, parameters, baseNames);
        }
        MergeSpec.Builder b = MergeSpec.builder(base, models, out).method(method).parameters(parameters);
        if (method == MergeMethods.WUDI) {
            wudi(c, b);
        } else {
            if (method.mergekitScale() != null) {
                b.scale(method.mergekitScale());               // mergekit's lambda default
            }
            if (method.mergekitDensity() != null) {
                b.density(method.mergekitDensity());           // mergekit's density default: nothing trimmed
            }
        }
        String dt = c.outDType() != null ? c.outDType() : c.dtype();
        if (dt != null) {
            b.outDType(dt.equals("float32") ? DType.F32 : dt.equals("float16") ? DType.F16 : DType.BF16);
        }
        if (c.dtype() != null && c.outDType() == null) {
            notes.add("dtype " + c.dtype() + ": the output is written in it; the arithmetic is float32 whatever the dtype");
        }
        String yaml = normalized(c, method, base);
        ConfigParameters withYaml = parameters.withNormalizedYaml(yaml);
        if (c.tokenizerSource() != null && !c.tokenizerSource().equals("base")) {
            withYaml = withYaml.withTokenizerSource(Path.of(c.tokenizerSource()));   // that model's tokenizer files
        }
        if (chat != null) {
            withYaml = withYaml.withChatTemplate(chat);
        }
        b.parameters(withYaml);
        return new Result(b, notes, yaml);
    }

    /**
     * ChatML in this engine's own words: each message as &lt;|im_start|&gt;ROLE, newline, CONTENT, &lt;|im_end|&gt;,
     * newline; then the assistant's opening when a generation prompt is asked for.
     */
    static final String CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n'"
            + " + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /**
     * chat_template: "auto" (the most common among the models' tokenizers), "chatml", or a template's text (at least
     * 20 characters with a '{', as mergekit requires); mergekit's other named templates are not shipped here.
     */
    private static String chatTemplate(MergekitConfig c) {
        String t = c.chatTemplate();
        if (t == null) {
            return null;
        }
        if (t.equals("auto")) {
            return t;
        }
        if (t.equals("chatml")) {
            return CHATML;
        }
        if (t.length() >= 20 && t.contains("{")) {
            return t;
        }
        throw new ConfigException(c.doc().where("/chat_template") + ": chat_template '" + t + "' is neither auto,"
                + " chatml nor a Jinja template's text (mergekit's other named templates are not shipped here: give the"
                + " template itself)");
    }

    /** Every parameter known to the method; every required per-model one given (at the model or the top level). */
    private static void check(MergekitConfig c, MergeMethod m, MergeMethod.ConfigParams p) {
        LocatedYaml doc = c.doc();
        for (String k : c.parameters().keySet()) {
            if (m == MergeMethods.WUDI) {
                if (!WUDI_NUMBERS.containsKey(k)) {
                    throw new ConfigException(doc.where("/parameters/" + k) + ": unknown wudi parameter '" + k + "' ("
                            + String.join(", ", new java.util.TreeSet<>(WUDI_NUMBERS.keySet())) + ", and the strings "
                            + String.join(", ", new java.util.TreeSet<>(WUDI_STRINGS)) + ")");
                }
                if (!(c.parameters().get(k) instanceof ParamSetting.Scalar)) {
                    throw new ConfigException(doc.where("/parameters/" + k) + ": wudi's " + k + " is one number for the"
                            + " whole merge (no gradient or filter)");
                }
            } else if (!p.global().contains(k) && !p.perModel().contains(k)) {
                throw new ConfigException(doc.where("/parameters/" + k) + ": " + c.method() + " has no parameter '" + k
                        + "' (" + describe(p) + ")");
            }
        }
        for (String k : c.options().keySet()) {
            if (m != MergeMethods.WUDI || !WUDI_STRINGS.contains(k)) {
                throw new ConfigException(doc.where("/parameters/" + k) + ": parameter " + k + " must be a number, a"
                        + " gradient or a filtered list" + (m == MergeMethods.WUDI ? " (wudi's string parameters: "
                        + String.join(", ", new java.util.TreeSet<>(WUDI_STRINGS)) + ")" : ""));
            }
        }
        for (MergekitConfig.ModelEntry e : c.models()) {
            for (String k : e.parameters().keySet()) {
                if (!p.perModel().contains(k)) {
                    throw new ConfigException(doc.where(e.pointer() + "/parameters/" + k) + ": " + c.method()
                            + " has no per-model parameter '" + k + "'" + (p.perModel().isEmpty() ? ""
                            : " (" + String.join(", ", new java.util.TreeSet<>(p.perModel())) + ")"));
                }
            }
            for (String k : p.required()) {
                if (!e.parameters().containsKey(k) && !c.parameters().containsKey(k)) {
                    throw new ConfigException(doc.where(e.pointer()) + ": model " + e.ref().text() + " needs a " + k
                            + " (mergekit's " + c.method() + " requires it; give it here or under parameters:)");
                }
            }
        }
    }

    private static String describe(MergeMethod.ConfigParams p) {
        List<String> parts = new ArrayList<>();
        if (!p.global().isEmpty()) {
            parts.add("global: " + String.join(", ", new java.util.TreeSet<>(p.global())));
        }
        if (!p.perModel().isEmpty()) {
            parts.add("per model: " + String.join(", ", new java.util.TreeSet<>(p.perModel())));
        }
        return parts.isEmpty() ? "none" : String.join("; ", parts);
    }

    /** wudi's parameters onto the solver options: Adam's settings, or the spectral solvers'. */
    private static void wudi(MergekitConfig c, MergeSpec.Builder b) {
        Map<String, Double> n = new LinkedHashMap<>();
        c.parameters().forEach((k, v) -> n.put(WUDI_NUMBERS.get(k), v.evaluate("", 0)));
        AdamConfig paper = AdamConfig.paper();
        AdamConfig adam = new AdamConfig(n.containsKey("lr") ? n.get("lr").floatValue() : paper.lr(),
                n.containsKey("beta1") ? n.get("beta1").floatValue() : paper.beta1(),
                n.containsKey("beta2") ? n.get("beta2").floatValue() : paper.beta2(),
                n.containsKey("eps") ? n.get("eps").floatValue() : paper.eps(),
                n.containsKey("iters") ? n.get("iters").intValue() : paper.iterations());
        b.adam(adam);
        String solver = c.options().getOrDefault("solver", "adam");
        LocatedYaml doc = c.doc();
        try {
            switch (solver) {
                case "adam":
                    b.solver(new SolverSpec.Adam(adam));
                    break;
                case "exact":
                    b.solver(new SolverSpec.Exact(n.getOrDefault("ridge", 0.0)));
                    break;
                case "flow":
                    b.solver(new SolverSpec.Flow(n.getOrDefault("flow_time", Double.NaN)));
                    break;
                case "spectral":
                    b.solver(new SolverSpec.Spectral(c.options().containsKey("filter")
                            ? SpectralFilter.Kind.parse(c.options().get("filter")) : SpectralFilter.Kind.EXPONENTIAL,
                            n.getOrDefault("filter_param", Double.NaN), n.getOrDefault("rank", 0.0).intValue(),
                            n.getOrDefault("cutoff", Double.NaN)));
                    break;
                default:
                    throw new ConfigException(doc.where("/parameters/solver") + ": solver '" + solver + "' is not adam,"
                            + " exact, flow or spectral");
            }
            if (c.options().containsKey("rest")) {
                b.rest(RestPolicy.parse(c.options().get("rest")));
            }
        } catch (IllegalArgumentException e) {
            if (e instanceof ConfigException ce) {
                throw ce;
            }
            throw new ConfigException(doc.where("/parameters") + ": " + e.getMessage());
        }
        String include = c.options().get("include");
        String exclude = c.options().containsKey("exclude") ? c.options().get("exclude") : c.options().get("exclude_regex");
        try {
            if (include != null) {
                b.include(Pattern.compile(include));
            }
            if (exclude != null) {
                b.exclude(Pattern.compile(exclude, c.options().containsKey("exclude") ? 0 : Pattern.CASE_INSENSITIVE));
            }
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new ConfigException(doc.where("/parameters") + ": invalid regex: " + e.getDescription());
        }
    }

    /** The config as run: the method, base and models as resolved, every parameter and default written out. */
    static String normalized(MergekitConfig c, MergeMethod m, Path base) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("merge_method", c.method());
        root.put("base_model", c.base() != null ? c.base().text() : null);
        List<Object> models = new ArrayList<>();
        for (MergekitConfig.ModelEntry e : c.models()) {
            Map<String, Object> me = new LinkedHashMap<>();
            me.put("model", e.ref().text());
            if (!e.parameters().isEmpty()) {
                Map<String, Object> ps = new LinkedHashMap<>();
                e.parameters().forEach((k, v) -> ps.put(k, v.toYaml()));
                me.put("parameters", ps);
            }
            models.add(me);
        }
        root.put("models", models);
        Map<String, Object> ps = new LinkedHashMap<>();
        m.config().defaults().forEach(ps::put);
        c.parameters().forEach((k, v) -> ps.put(k, v.toYaml()));
        c.options().forEach(ps::put);
        root.put("parameters", ps);
        root.put("dtype", c.dtype());
        root.put("out_dtype", c.outDType() != null ? c.outDType() : c.dtype());
        root.put("tokenizer_source", c.tokenizerSource() != null ? c.tokenizerSource() : "base");
        root.put("chat_template", c.chatTemplate());
        root.put("random_seed", c.randomSeed() != null ? c.randomSeed() : 0L);
        ObjectMapper y = new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));
        return "# the config as run by wudi (normalised: every default written out); source: " + c.doc().file()
                + "\n" + y.writeValueAsString(root);
    }

    /** merge_method values a config may give: each method's mergekit spelling, or its aliases (linear). */
    static String mergekitNames() {
        List<String> names = new ArrayList<>();
        for (MergeMethod m : MergeMethods.all()) {
            if (m.aliases().isEmpty()) {
                names.add(m.name().replace('-', '_'));
            } else {
                names.addAll(m.aliases());
            }
        }
        return String.join(", ", names);
    }

    /** Reads a config and maps it; the convenience for callers that do not need the pieces. */
    public static Result read(Path file, Path out) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(file + (Files.exists(file) ? " is " + dev.wudi.format.FileKinds.describe(file)
                    + ", not a config file" : ": no such config file"));
        }
        return of(MergekitConfig.read(file), out);
    }
}
