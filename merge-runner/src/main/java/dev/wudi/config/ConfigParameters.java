package dev.wudi.config;

import dev.wudi.method.ParameterSource;
import dev.wudi.method.TensorParameters;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A config's parameters resolved per tensor as mergekit does: a model's own setting, else the top-level one (a
 * filtered list with no matching condition falls through), at the tensor's gradient position t = i / (L - 1) for
 * layer i of L (t = 1 for a one-layer model), and t = 0 for tensors outside the layers (embeddings, final norm,
 * heads).
 */
public final class ConfigParameters implements ParameterSource {

    /** transformers' layer containers: model.layers.3., transformer.h.3., encoder.layer.3., blocks.3. */
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks|block)\\.(\\d+)\\.");

    private final Map<String, ParamSetting> global;
    private final List<Map<String, ParamSetting>> perModel;
    private final int layers;
    private final long seed;

    /**
     * @param perModel each model's parameters, in --model order
     * @param layers   the model's layer count (L), or -1 to take it from the tensor names seen
     * @param seed     random_seed (DARE, DELLA)
     */
    public ConfigParameters(Map<String, ParamSetting> global, List<Map<String, ParamSetting>> perModel, int layers,
                            long seed) {
        this.global = Map.copyOf(global);
        this.perModel = List.copyOf(perModel);
        this.layers = layers;
        this.seed = seed;
    }

    @Override
    public long seed() {
        return seed;
    }

    /** The same parameters with another seed (--seed over random_seed). */
    public ConfigParameters withSeed(long newSeed) {
        return new ConfigParameters(global, perModel, layers, newSeed);
    }

    /** The same parameters with one global value replaced (a command-line option over the config). */
    public ConfigParameters withGlobal(String name, double value) {
        Map<String, ParamSetting> g = new java.util.LinkedHashMap<>(global);
        g.put(name, new ParamSetting.Scalar(value));
        return new ConfigParameters(g, perModel, layers, seed);
    }

    /** The same parameters without one (a command-line option replaces it). */
    public ConfigParameters without(String name) {
        Map<String, ParamSetting> g = new java.util.LinkedHashMap<>(global);
        g.remove(name);
        List<Map<String, ParamSetting>> m = new java.util.ArrayList<>();
        for (Map<String, ParamSetting> pm : perModel) {
            Map<String, ParamSetting> c = new java.util.LinkedHashMap<>(pm);
            c.remove(name);
            m.add(c);
        }
        return new ConfigParameters(g, m, layers, seed);
    }

    /** The global parameters, then each model's that has any: "lambda 0.6; model 1: density 0.5, weight 1.0". */
    @Override
    public String describe() {
        List<String> groups = new java.util.ArrayList<>();
        if (!global.isEmpty()) {
            groups.add(describe(global));
        }
        for (int k = 0; k < perModel.size(); k++) {
            if (!perModel.get(k).isEmpty()) {
                groups.add("model " + (k + 1) + ": " + describe(perModel.get(k)));
            }
        }
        return String.join("; ", groups);
    }

    /** In name order: a config's order is not kept, and a description must not depend on the map's. */
    private static String describe(Map<String, ParamSetting> settings) {
        List<String> parts = new java.util.ArrayList<>();
        new java.util.TreeMap<>(settings).forEach((k, v) -> parts.add(k + " " + (ConfigChecks.flag(k)
                && v instanceof ParamSetting.Scalar f ? String.valueOf(f.value() != 0) : v.describe())));
        return String.join(", ", parts);
    }

    @Override
    public boolean givesEverywhere(String name) {
        ParamSetting g = global.get(name);
        if (g != null && g.everywhere()) {
            return true;
        }
        return !perModel.isEmpty() && perModel.stream().allMatch(m -> m.containsKey(name) && m.get(name).everywhere());
    }

    /** The layer index in a tensor name, or -1 outside the layers. */
    static int layerOf(String tensor) {
        Matcher m = LAYER.matcher(tensor);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** The gradient position of a tensor: i / (L - 1) in layer i of L, 1 for one layer, 0 outside the layers. */
    public double position(String tensor) {
        int i = layerOf(tensor);
        if (i < 0) {
            return 0;
        }
        int l = Math.max(layers, i + 1);
        return l > 1 ? (double) i / (l - 1) : 1;
    }

    @Override
    public TensorParameters forTensor(String tensorName) {
        double t = position(tensorName);
        return new TensorParameters() {
            @Override
            public Double global(String name) {
                ParamSetting s = global.get(name);
                return s == null ? null : s.evaluate(tensorName, t);
            }

            @Override
            public Double model(int model, String name) {
                if (model >= 0 && model < perModel.size()) {
                    ParamSetting s = perModel.get(model).get(name);
                    Double v = s == null ? null : s.evaluate(tensorName, t);
                    if (v != null) {
                        return v;
                    }
                }
                return global(name);
            }
        };
    }
}
