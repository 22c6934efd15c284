package dev.wudi.method;

import java.util.List;
import java.util.Map;

/**
 * A merge method, one object: its name and reference, its parameters with their defaults, the tensors it takes when
 * the user names none, whether it draws random numbers, what a mergekit config may give it, and the rule that
 * computes one output tensor. {@link MergeMethods} lists them; adding a method is a new subclass and one line there.
 */
public abstract class MergeMethod {

    /** Which tensors a method touches when the user gives no --include. */
    public enum Scope {
        /** 2-D floating linear weights, minus embeddings, lm_head and classifier/score heads (WUDI). */
        LINEAR_WEIGHTS,
        /** Every floating tensor (element-wise methods). */
        ALL_FLOATING
    }

    /**
     * What a mergekit config may give the method: global parameters, per-model ones, the per-model ones every model
     * must have, and the defaults the config as run writes out (mergekit's).
     */
    public record ConfigParams(java.util.Set<String> global, java.util.Set<String> perModel,
                               java.util.Set<String> required, Map<String, Object> defaults) {
        public ConfigParams {
            global = java.util.Set.copyOf(global);
            perModel = java.util.Set.copyOf(perModel);
            required = java.util.Set.copyOf(required);
            defaults = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(defaults));
        }
    }

    /** mergekit's generalized task arithmetic family: lambda, normalize, rescale, int8_mask; weight and density. */
    protected static final java.util.Set<String> GTA_GLOBAL = java.util.Set.of("lambda", "normalize", "rescale",
            "int8_mask");

    private final String name;
    private final String summary;
    private final String reference;
    private final List<MethodParam> params;
    private final Scope defaultScope;

    protected MergeMethod(String name, String summary, String reference, List<MethodParam> params, Scope defaultScope) {
        this.name = name;
        this.summary = summary;
        this.reference = reference;
        this.params = List.copyOf(params);
        this.defaultScope = defaultScope;
    }

    /** The command line's name (task-arithmetic). */
    public final String name() {
        return name;
    }

    /** One line: what the method does. */
    public final String summary() {
        return summary;
    }

    /** Where it was published. */
    public final String reference() {
        return reference;
    }

    /** The settings the command line gives it (--scale, --density, ...), with their defaults. */
    public final List<MethodParam> params() {
        return params;
    }

    /** The tensors it takes without --include. */
    public final Scope defaultScope() {
        return defaultScope;
    }

    public final double defaultOf(String param) {
        for (MethodParam p : params) {
            if (p.name().equals(param)) {
                return p.defaultValue();
            }
        }
        throw new IllegalArgumentException("method " + name + " has no parameter " + param);
    }

    public final boolean hasParam(String param) {
        return params.stream().anyMatch(p -> p.name().equals(param));
    }

    /** Other names that select it (mergekit's: linear for the average). */
    public List<String> aliases() {
        return List.of();
    }

    /** Whether it draws random numbers, so that --seed (a config's random_seed) applies. */
    public boolean random() {
        return false;
    }

    /** Whether it needs a base model (a config may leave base_model out where it does not). */
    public boolean needsBase() {
        return true;
    }

    /** What a mergekit config may give it. */
    public abstract ConfigParams config();

    /** mergekit's default for the coefficient (lambda) where the command line's differs, or null. */
    public Double mergekitScale() {
        return null;
    }

    /** mergekit's default for the density where the command line's differs, or null. */
    public Double mergekitDensity() {
        return null;
    }

    /** Global parameters a config without a base_model implies (e.g. nuslerp interpolating the models themselves). */
    public Map<String, Double> globalsWithoutBase() {
        return Map.of();
    }

    /**
     * Why this many models (besides the base) do not fit the method, or null where they do.
     *
     * @param hasT whether a global t is given (slerp's)
     */
    public String modelCountProblem(int models, boolean hasT) {
        return null;
    }

    /** The warning for a merge of one model, or null where one model is a meaningful merge. */
    public String oneModelWarning() {
        return null;
    }

    /** The rule that computes each tensor the method takes, with these settings. */
    public abstract TensorRule rule(MethodSettings s);

    /**
     * The method with its settings as applied, as every report names it: its own settings ({@link #settings}) but
     * those a config gives for every model and tensor, then what the config gives: "ties (density 0.2, scale 1.0)",
     * "ties (scale 1.0; model 1: density 0.5, weight 1.0; model 2: density 0.5, weight 1.0)".
     */
    public String describe(MethodSettings s) {
        List<String> own = new java.util.ArrayList<>();
        settings(s).forEach((param, value) -> {
            if (!s.parameters().givesEverywhere(configName(param))) {
                own.add(param + " " + value);
            }
        });
        List<String> groups = new java.util.ArrayList<>();
        if (!own.isEmpty()) {
            groups.add(String.join(", ", own));
        }
        if (!s.parameters().describe().isEmpty()) {
            groups.add(s.parameters().describe());
        }
        return groups.isEmpty() ? name : name + " (" + String.join("; ", groups) + ")";
    }

    /** The settings a description names, in order ("density" -> "0.2"); none unless the method has some. */
    protected Map<String, String> settings(MethodSettings s) {
        return Map.of();
    }

    /** What a config calls a setting: the coefficient is mergekit's lambda; the others keep their names. */
    public static String configName(String param) {
        return param.equals("scale") ? "lambda" : param;
    }

    @Override
    public final String toString() {
        return name;
    }
}
