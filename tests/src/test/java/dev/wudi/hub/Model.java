package dev.wudi.hub;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;

/**
 * A checkpoint in memory: its config.json and its tensors in file order. Builders return new models
 * and never modify one they were given (tensors are shared, configs are copied).
 */
public record Model(ObjectNode config, LinkedHashMap<String, Tensor> tensors) {

    /** The named tensor; an unknown name fails with the names it could have meant. */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in this " + config.path("model_type").asText()
                    + " model (" + tensors.size() + " tensors, e.g. " + tensors.keySet().stream().limit(5).toList() + ")");
        }
        return t;
    }

    /** A copy with its own config and tensor map, ready for one builder to change. */
    public Model copy() {
        return new Model(config.deepCopy(), new LinkedHashMap<>(tensors));
    }

    /** Total number of float values, to keep an eye on test file sizes. */
    public long parameters() {
        return tensors.values().stream().mapToLong(Tensor::numel).sum();
    }
}
