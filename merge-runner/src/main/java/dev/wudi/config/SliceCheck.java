package dev.wudi.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.model.ModelConfig;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * mergekit's slices, accepted where they select every layer of every model once: one output slice whose sources
 * each take layer_range [0, L) of a different model, L being that model's layer count (config.json). That is the
 * same merge as models:, and becomes it. Anything else (several slices, partial ranges: a frankenmerge or a layer
 * stack; modules of multi-module architectures) changes the model's structure and is refused naming the feature.
 * Slice-level parameters are not supported (put them at the top level or on the sources).
 */
final class SliceCheck {

    private static final Set<String> SLICE_KEYS = Set.of("sources");
    private static final Set<String> SOURCE_KEYS = Set.of("model", "layer_range", "parameters");

    private SliceCheck() {
    }

    static List<MergekitConfig.ModelEntry> asModels(LocatedYaml doc, MergekitConfig.ModelRef base) throws IOException {
        JsonNode root = doc.root();
        String at = "/slices";
        if (root.has("modules")) {
            if (root.has("slices")) {
                throw new ConfigException(doc.where("/modules") + ": give one of models, slices or modules, not several");
            }
            JsonNode modules = root.get("modules");
            if (!modules.isObject() || modules.size() != 1) {
                throw new ConfigException(doc.where("/modules") + ": " + (modules.isObject() ? modules.size() : 0)
                        + " modules: separate merges per module of a multi-module architecture are not supported; only"
                        + " one module that takes every layer of every model, the same as models:");
            }
            String name = modules.fieldNames().next();
            String mp = "/modules/" + name.replace("~", "~0").replace("/", "~1");
            JsonNode module = modules.get(name);
            for (java.util.Iterator<String> it = module.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals("models") && !k.equals("slices")) {
                    throw new ConfigException(doc.where(mp + "/" + k) + ": module key '" + k + "' is not supported"
                            + (k.equals("parameters") ? " (give the parameters at the top level)" : "")
                            + " (a module holds models: or slices:)");
                }
            }
            if (module.has("models") == module.has("slices")) {
                throw new ConfigException(doc.where(mp) + ": a module holds either models: or slices:");
            }
            if (module.has("models")) {
                return MergekitConfig.modelsAt(doc, mp + "/models", base);
            }
            at = mp + "/slices";
        }
        JsonNode slices = doc.root().at(at);
        if (!slices.isArray() || slices.size() != 1) {
            throw new ConfigException(doc.where(at) + ": " + (slices.isArray() ? slices.size() : 0)
                    + " slices: stacking or cutting layers (a frankenmerge) is not supported; only one slice that takes"
                    + " every layer of every model, which is the same as models:");
        }
        JsonNode slice = slices.get(0);
        String sp = at + "/0";
        slice.fieldNames().forEachRemaining(k -> {
            if (!SLICE_KEYS.contains(k)) {
                throw new ConfigException(doc.where(sp + "/" + k) + ": slice key '" + k + "' is not supported"
                        + (k.equals("parameters") || k.equals("base_model") ? " (give it at the top level)" : ""));
            }
        });
        JsonNode sources = slice.get("sources");
        if (sources == null || !sources.isArray() || sources.isEmpty()) {
            throw new ConfigException(doc.where(sp) + ": a slice needs sources: [{model, layer_range}]");
        }
        List<MergekitConfig.ModelEntry> out = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            String p = sp + "/sources/" + i;
            JsonNode s = sources.get(i);
            s.fieldNames().forEachRemaining(k -> {
                if (!SOURCE_KEYS.contains(k)) {
                    throw new ConfigException(doc.where(p + "/" + k) + ": unknown key '" + k + "' in a slice source");
                }
            });
            MergekitConfig.ModelRef ref = MergekitConfig.ref(doc, p + "/model");
            JsonNode range = s.get("layer_range");
            if (range == null || !range.isArray() || range.size() != 2 || !range.get(0).isIntegralNumber()
                    || !range.get(1).isIntegralNumber()) {
                throw new ConfigException(doc.where(p) + ": a slice source needs layer_range: [START, END], two"
                        + " integers");
            }
            int layers = ModelConfig.of(ref.model()).layerCount();
            if (layers <= 0) {
                throw new ConfigException(doc.where(p + "/layer_range") + ": the layer count of " + ref.model()
                        + " is unknown (no config.json with num_hidden_layers), so the slice cannot be checked to take"
                        + " every layer; use models:");
            }
            if (range.get(0).asLong() != 0 || range.get(1).asLong() != layers) {
                throw new ConfigException(doc.where(p + "/layer_range") + ": layer_range " + range + " of a " + layers
                        + "-layer model: taking part of a model's layers (a frankenmerge) is not supported; only [0, "
                        + layers + "], the same as models:");
            }
            for (MergekitConfig.ModelEntry e : out) {
                if (e.ref().equals(ref)) {
                    throw new ConfigException(doc.where(p) + ": model " + ref.text() + " is a source twice");
                }
            }
            if (base != null && ref.equals(base)) {
                continue;
            }
            out.add(new MergekitConfig.ModelEntry(ref, paramsOf(doc, p + "/parameters"), p));
        }
        return out;
    }

    private static java.util.Map<String, ParamSetting> paramsOf(LocatedYaml doc, String pointer) {
        java.util.Map<String, ParamSetting> out = new java.util.LinkedHashMap<>();
        JsonNode n = doc.root().at(pointer);
        if (n.isMissingNode() || n.isNull()) {
            return out;
        }
        n.fieldNames().forEachRemaining(k -> out.put(k, ParamSetting.parse(doc, pointer + "/" + k, k)));
        return out;
    }
}
