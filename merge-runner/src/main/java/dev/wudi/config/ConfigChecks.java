package dev.wudi.config;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.spec.ParameterRange;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.TensorParameters;
import dev.wudi.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The checks of a config's values made before any tensor is read, each refusal naming the file and the line: every
 * number against its setting's range (the command line's), DELLA's density +- epsilon, linear weights that sum to
 * zero under normalize, and config.json's layer count where gradients spread over it.
 */
final class ConfigChecks {

    private ConfigChecks() {
    }

    /** The range of parameter {@code name} of method {@code m} (wudi's by their solver option). */
    static ParameterRange rangeOf(MergeMethod m, String name) {
        if (m == MergeMethods.WUDI) {
            switch (ConfigOptions.WUDI_NUMBERS.get(name)) {
                case "iters":
                case "rank":
                    return ParameterRange.COUNT;
                case "beta1":
                case "beta2":
                    return ParameterRange.BELOW_ONE;
                case "eps":
                case "ridge":
                case "flow-time":
                    return ParameterRange.NON_NEGATIVE;
                default:                                     // lr, filter_param, cutoff
                    return ParameterRange.POSITIVE;
            }
        }
        switch (name) {
            case "density":
                return ParameterRange.DENSITY;
            case "gamma":
                return ParameterRange.FRACTION;
            case "epsilon":                                  // DELLA's
                return ParameterRange.BELOW_ONE;
            default:                                         // weight, lambda, t; or a flag
                return flag(name) ? ParameterRange.FLAG : ParameterRange.FINITE;
        }
    }

    /** The parameters that are true or false (read as 1 and 0). */
    static boolean flag(String name) {
        return switch (name) {
            case "normalize", "rescale", "int8_mask", "filter_wise", "nuslerp_flatten", "nuslerp_row_wise" -> true;
            default -> false;
        };
    }

    /** Every parameter's every number against its range, and DELLA's density +- epsilon inside (0, 1). */
    static void ranges(MergekitConfig c, MergeMethod m) {
        LocatedYaml doc = c.doc();
        c.parameters().keySet().forEach(k -> ParamSetting.check(doc, "/parameters/" + k, k, rangeOf(m, k)));
        for (MergekitConfig.ModelEntry e : c.models()) {
            e.parameters().keySet().forEach(k -> ParamSetting.check(doc, e.pointer() + "/parameters/" + k, k,
                    rangeOf(m, k)));
            if (m.config().perModel().contains("epsilon")) {
                della(c, e);                                 // DELLA's band around the density
            }
        }
    }

    /** mergekit's della_magprune refuses density +- epsilon outside (0, 1) at its first tensor; here, at parse. */
    private static void della(MergekitConfig c, MergekitConfig.ModelEntry e) {
        String dp = e.parameters().containsKey("density") ? e.pointer() + "/parameters/density" : "/parameters/density";
        ParamSetting d = e.parameters().getOrDefault("density", c.parameters().get("density"));
        ParamSetting eps = e.parameters().getOrDefault("epsilon", c.parameters().get("epsilon"));
        if (!(d instanceof ParamSetting.Scalar ds) || eps != null && !(eps instanceof ParamSetting.Scalar)) {
            return;                                          // per tensor: checked as each tensor is merged
        }
        double epsilon = eps == null ? 0.15 : ((ParamSetting.Scalar) eps).value();
        double density = ds.value();
        if (density < 1 && (density + epsilon >= 1 || density - epsilon <= 0)) {
            throw new ConfigException(c.doc().where(dp) + ": density " + density + " with epsilon " + epsilon + ": della"
                    + " keeps each element with a probability in density +- epsilon, which must lie inside (0, 1)");
        }
    }

    /** The base's tensor names (headers only), or null where it cannot be opened here: the merge then says why. */
    static List<String> baseNames(Path base) {
        try (Checkpoint cp = Checkpoint.open(base)) {
            return List.copyOf(cp.names());
        } catch (IOException | RuntimeException unreadable) {
            return null;
        }
    }

    /**
     * The layer count gradients spread over: config.json's, else the count in the base's tensor names (a single
     * file has no config.json). Where both are known, differ, and a gradient is given, refused: a gradient's anchors
     * would land on other layers than the config means (n_layer 48 over 12 layers squeezes them into the first
     * quarter; layers past the count all take the last anchor).
     */
    static int layers(MergekitConfig c, Path base, List<String> names) throws IOException {
        ModelConfig mc = ModelConfig.of(base);
        int claimed = mc.layerCount();
        int real = -1;
        if (names != null) {
            for (String n : names) {
                real = Math.max(real, ConfigParameters.layerOf(n) + 1);
            }
        }
        if (claimed <= 0 || real <= 0) {
            return claimed > 0 ? claimed : real;
        }
        String gradient = gradientAt(c);
        if (claimed != real && gradient != null) {
            throw new ConfigException(c.doc().where(gradient) + ": this gradient spreads over the layers by "
                    + mc.file() + "'s " + mc.layerCountField() + " " + claimed + ", but the base's tensors hold "
                    + real + " layers (0 to " + (real - 1) + "); correct config.json, or give the parameter as one"
                    + " number");
        }
        return claimed;
    }

    /** The pointer of a gradient among the config's parameters, or null where none is one. */
    private static String gradientAt(MergekitConfig c) {
        String at = gradientAt(c.parameters(), "/parameters/");
        for (MergekitConfig.ModelEntry e : c.models()) {
            at = at != null ? at : gradientAt(e.parameters(), e.pointer() + "/parameters/");
        }
        return at;
    }

    private static String gradientAt(Map<String, ParamSetting> ps, String prefix) {
        for (Map.Entry<String, ParamSetting> e : ps.entrySet()) {
            ParamSetting s = e.getValue();
            boolean gradient = s instanceof ParamSetting.Gradient g && g.anchors().length > 1;
            if (s instanceof ParamSetting.Conditional cs) {
                for (ParamSetting.Condition k : cs.conditions()) {
                    gradient |= k.value() instanceof ParamSetting.Gradient g && g.anchors().length > 1;
                }
            }
            if (gradient) {
                return prefix + e.getKey();
            }
        }
        return null;
    }

    /**
     * linear with normalize divides by the sum of the models' weights; where that sum is 0 for a tensor, mergekit
     * divides by zero too (an Inf/NaN model), so the config is refused naming the first weight's line and the tensor.
     * Summed as {@link dev.wudi.method.Average} sums them (float32, in model order); {@code names} null: the weights
     * outside the layers and filters only.
     */
    static void linearWeights(MergekitConfig c, ConfigParameters p, List<String> names) {
        int n = c.models().size();
        for (String name : names != null ? names : List.of("")) {
            TensorParameters tp = p.forTensor(name);
            if (tp.global("normalize", 1) == 0) {
                continue;
            }
            float total = 0f;
            List<String> weights = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Double w = tp.model(i, "weight");
                if (w == null) {
                    return;                                  // refused elsewhere: linear needs every weight
                }
                total += (float) (double) w;
                weights.add(String.valueOf(w));
            }
            if (n > 0 && total == 0f) {
                MergekitConfig.ModelEntry first = c.models().get(0);
                String at = first.parameters().containsKey("weight") ? first.pointer() + "/parameters/weight"
                        : "/parameters/weight";
                throw new ConfigException(c.doc().where(at) + ": linear with normalize divides by the sum of the"
                        + " models' weights, which is 0 for " + (name.isEmpty() ? "every tensor" : "tensor " + name)
                        + " (weights " + String.join(", ", weights) + "; mergekit divides by zero there and writes"
                        + " Inf/NaN); give weights that do not sum to 0, or normalize: false");
            }
        }
    }
}
