package dev.wudi.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.spec.ParameterRange;
import java.util.ArrayList;
import java.util.List;

/**
 * One parameter value of a mergekit config, as mergekit's evaluate_setting reads it: a number (a flag's true and
 * false are 1 and 0; {@link #check} refuses a flag where a number is meant and the reverse); a list of numbers, a
 * gradient interpolated piecewise-linearly over the layers (n evenly spaced anchors on [0, 1], t = the layer's
 * position); or a list of {filter, value} conditions, the first whose filter is absent, "*" or a substring of the
 * tensor name giving the value (itself a number or a gradient). Where no condition matches the value is absent, and
 * the lookup falls through to the next level (model, then global, then the default).
 */
public sealed interface ParamSetting {

    /** The value for a tensor at gradient position t in [0, 1], or null where no condition matches. */
    Double evaluate(String tensor, double t);

    /** The setting in a report's words: "0.5", a gradient "[1.0, 0.7, 0.2]", conditions "{mlp: 0.5, *: 1.0}". */
    String describe();

    /** Whether it gives a value for every tensor (a filtered list only with a condition that matches all). */
    boolean everywhere();

    record Scalar(double value) implements ParamSetting {
        @Override
        public Double evaluate(String tensor, double t) {
            return value;
        }

        @Override
        public String describe() {
            return String.valueOf(value);
        }

        @Override
        public boolean everywhere() {
            return true;
        }
    }

    /** Anchors v_0..v_{n-1} at 0, 1/(n-1), ..., 1: s = t (n - 1), i0 = floor(s), value (1-f) v_i0 + f v_i0+1. */
    record Gradient(double[] anchors) implements ParamSetting {
        @Override
        public Double evaluate(String tensor, double t) {
            int n = anchors.length;
            double s = Math.max(0, Math.min(1, t)) * (n - 1);
            int i0 = (int) Math.floor(s);
            int i1 = Math.min(n - 1, i0 + 1);
            double f = s - i0;
            return (1 - f) * anchors[i0] + f * anchors[i1];
        }

        @Override
        public String describe() {
            return java.util.Arrays.toString(anchors);
        }

        @Override
        public boolean everywhere() {
            return true;
        }
    }

    /** One {filter, value}; filter null or "*" matches every tensor. */
    record Condition(String filter, ParamSetting value) {
        boolean matches(String tensor) {
            return filter == null || filter.equals("*") || tensor.contains(filter);
        }
    }

    record Conditional(List<Condition> conditions) implements ParamSetting {
        @Override
        public Double evaluate(String tensor, double t) {
            for (Condition c : conditions) {
                if (c.matches(tensor)) {
                    return c.value().evaluate(tensor, t);
                }
            }
            return null;
        }

        @Override
        public String describe() {
            List<String> parts = new ArrayList<>();
            for (Condition c : conditions) {
                parts.add((c.filter() == null ? "*" : c.filter()) + ": " + c.value().describe());
            }
            return "{" + String.join(", ", parts) + "}";
        }

        @Override
        public boolean everywhere() {
            return conditions.stream().anyMatch(c -> c.matches("") && c.value().everywhere());
        }
    }

    /**
     * Checks the value at {@code pointer} against the setting's range, as the command line checks the same setting:
     * every number it holds (the scalar, each anchor of a gradient, each condition's value) of the right kind (no
     * true for a weight, no 4.5 for a count, a flag true or false) and in range. A gradient between anchors in range
     * stays in range. Refusals name the file, the line and the parameter.
     */
    static void check(LocatedYaml doc, String pointer, String name, ParameterRange range) {
        JsonNode n = doc.root().at(pointer);
        if (!n.isArray()) {
            leaf(doc, pointer, name, range);
            return;
        }
        boolean gradient = true;
        for (JsonNode e : n) {
            gradient &= e.isNumber() || e.isBoolean();
        }
        for (int i = 0; i < n.size(); i++) {
            if (!gradient) {
                check(doc, pointer + "/" + i + "/value", name, range);
            } else if (range.kind() == ParameterRange.Kind.FLAG) {
                throw new ConfigException(doc.where(pointer) + ": parameter " + name + " is true or false, not a"
                        + " gradient over the layers");
            } else {
                leaf(doc, pointer + "/" + i, name, range);
            }
        }
    }

    private static void leaf(LocatedYaml doc, String pointer, String name, ParameterRange range) {
        JsonNode n = doc.root().at(pointer);
        String where = doc.where(pointer) + ": parameter " + name + " ";
        if (range.kind() == ParameterRange.Kind.FLAG) {
            if (!n.isBoolean() && !(n.isNumber() && range.problem(n.asDouble()) == null)) {
                throw new ConfigException(where + "is true or false, got " + n);
            }
            return;
        }
        if (!n.isNumber()) {
            throw new ConfigException(where + "must be " + range.describe() + ", got " + (n.isBoolean() ? n
                    + " (a flag, not a number)" : n));
        }
        if (range.kind() == ParameterRange.Kind.INTEGER && !n.isIntegralNumber()) {
            throw new ConfigException(where + "must be " + range.describe() + " (a whole number), got " + n);
        }
        String problem = range.problem(n.asDouble());
        if (problem != null) {
            throw new ConfigException(where + n + " " + problem);
        }
    }

    /**
     * Reads a value at {@code pointer} of the document; refusals name the file, the line and the parameter.
     *
     * @param name the parameter, for messages
     */
    static ParamSetting parse(LocatedYaml doc, String pointer, String name) {
        JsonNode n = doc.root().at(pointer);
        if (n.isNumber()) {
            return new Scalar(n.asDouble());
        }
        if (n.isBoolean()) {
            return new Scalar(n.asBoolean() ? 1 : 0);
        }
        if (n.isArray() && !n.isEmpty()) {
            boolean numbers = true;
            for (JsonNode e : n) {
                numbers &= e.isNumber() || e.isBoolean();
            }
            if (numbers) {
                double[] v = new double[n.size()];
                for (int i = 0; i < v.length; i++) {
                    JsonNode e = n.get(i);
                    v[i] = e.isBoolean() ? (e.asBoolean() ? 1 : 0) : e.asDouble();
                }
                return new Gradient(v);
            }
            List<Condition> cs = new ArrayList<>();
            for (int i = 0; i < n.size(); i++) {
                String p = pointer + "/" + i;
                JsonNode e = n.get(i);
                if (!e.isObject() || !e.has("value")) {
                    throw new ConfigException(doc.where(p) + ": parameter " + name + ": each item of a filtered list is"
                            + " {filter: SUBSTRING, value: NUMBER or [gradient]} (the filter may be left out)");
                }
                e.fieldNames().forEachRemaining(k -> {
                    if (!k.equals("filter") && !k.equals("value")) {
                        throw new ConfigException(doc.where(p + "/" + k) + ": parameter " + name + ": unknown key '" + k
                                + "' in a condition (only filter and value)");
                    }
                });
                JsonNode f = e.get("filter");
                if (f != null && !f.isNull() && !f.isTextual()) {
                    throw new ConfigException(doc.where(p + "/filter") + ": parameter " + name
                            + ": filter must be a string (a substring of tensor names)");
                }
                ParamSetting v = parse(doc, p + "/value", name);
                if (v instanceof Conditional) {
                    throw new ConfigException(doc.where(p + "/value") + ": parameter " + name
                            + ": a condition's value is a number or a gradient, not another filtered list");
                }
                cs.add(new Condition(f == null || f.isNull() ? null : f.asText(), v));
            }
            return new Conditional(cs);
        }
        throw new ConfigException(doc.where(pointer) + ": parameter " + name + " must be a number, a list of numbers (a"
                + " gradient over the layers) or a list of {filter, value}; got " + (n.isTextual() ? "the string '"
                + n.asText() + "'" : n.toString()));
    }
}
