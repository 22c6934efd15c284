package dev.wudi.config;

import dev.wudi.format.DType;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.MergeSpecBuilder;
import dev.wudi.spec.OptionTable;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

    /** The options of WUDI a config gives as words, not numbers. */
    private static final Set<MergeOption> WORDS = Set.of(OptionTable.SOLVER, OptionTable.FILTER, OptionTable.REST,
            OptionTable.INCLUDE, OptionTable.EXCLUDE);

    /** The WUDI parameters a config may give as numbers (mergekit fork's names and ours), to their option's name. */
    static final Map<String, String> WUDI_NUMBERS = configNames(false);
    /** Those it may give as words; mergekit's exclude_regex too (matched ignoring case). */
    static final Set<String> WUDI_STRINGS = withExcludeRegex(configNames(true).keySet());

    private static Map<String, String> configNames(boolean words) {
        Map<String, String> m = new LinkedHashMap<>();
        for (MergeOption o : OptionTable.ALL) {
            if (WORDS.contains(o) == words) {
                o.configNames().forEach(n -> m.put(n, o.name().substring(2)));
            }
        }
        return m;
    }

    private static Set<String> withExcludeRegex(Set<String> names) {
        Set<String> s = new java.util.LinkedHashSet<>(names);
        s.add("exclude_regex");
        return s;
    }

    /** The options, the notes to print, and the config as run. */
    public record Result(MergeSpecBuilder builder, List<String> notes, String normalizedYaml) {
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
                c.randomSeed() == null ? 0 : c.randomSeed());
        if (method == MergeMethods.AVERAGE) {
            ConfigChecks.linearWeights(c, parameters, baseNames);
        }
        MergeSpecBuilder b = MergeSpec.builder(base, models, out).method(method).parameters(parameters)
                .baseStandsIn(c.base() == null);
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
        b.parameters(parameters);
        MergeSpec spec;
        try {
            spec = b.build();                              // the config's own settings, checked as the CLI's are
        } catch (ConfigException e) {
            throw e;
        } catch (dev.wudi.spec.OptionException e) {
            throw new ConfigException(doc.where(c.parameters().isEmpty() && c.options().isEmpty() ? "/merge_method"
                    : "/parameters") + ": " + e.getMessage());
        }
        String yaml = ConfigAsRun.of(c, method, spec);
        b.config(new MergeSpec.ConfigSource(yaml, c.tokenizer(), chat));
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

    /**
     * wudi's parameters onto the options they name ({@link OptionTable}'s config names: learning_rate is --lr), each
     * as given: the spec checks them as it checks the command line's.
     */
    private static void wudi(MergekitConfig c, MergeSpecBuilder b) {
        c.parameters().forEach((k, v) -> b.set(OptionTable.byConfigName(k), number(v.evaluate("", 0))));
        c.options().forEach((k, v) -> {
            if (k.equals("exclude_regex")) {
                b.set(OptionTable.EXCLUDE, "(?i)" + v);     // mergekit's spelling, matched ignoring case
            } else {
                b.set(OptionTable.byConfigName(k), v);
            }
        });
    }

    /** A config's number as an option's text: integers without a fraction (iterations: 20 is --iters 20). */
    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v);
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
