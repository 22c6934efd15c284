package dev.wudi.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * One parameter value of a mergekit config, as mergekit's evaluate_setting reads it: a number (booleans are 1 and
 * 0); a list of numbers, a gradient interpolated piecewise-linearly over the layers (n evenly spaced anchors on
 * [0, 1], t = the layer's position); or a list of {filter, value} conditions, the first whose filter is absent, "*"
 * or a substring of the tensor name giving the value (itself a number or a gradient). Where no condition matches
 * the value is absent, and the lookup falls through to the next level (model, then global, then the default).
 */
public sealed interface ParamSetting {

    /** The value for a tensor at gradient position t in [0, 1], or null where no condition matches. */
    Double evaluate(String tensor, double t);

    /** The setting as a config writes it (numbers, lists, {filter, value} maps). */
    Object toYaml();

    record Scalar(double value) implements ParamSetting {
        @Override
        public Double evaluate(String tensor, double t) {
            return value;
        }

        @Override
        public Object toYaml() {
            return value;
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
        public Object toYaml() {
            List<Double> out = new ArrayList<>();
            for (double a : anchors) {
                out.add(a);
            }
            return out;
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
        public Object toYaml() {
            List<Object> out = new ArrayList<>();
            for (Condition c : conditions) {
                java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                if (c.filter() != null) {
                    m.put("filter", c.filter());
                }
                m.put("value", c.value().toYaml());
                out.add(m);
            }
            return out;
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
