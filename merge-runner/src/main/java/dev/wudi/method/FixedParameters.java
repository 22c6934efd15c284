package dev.wudi.method;

import java.util.Map;

/** The command line's method parameters: the same global values for every tensor, and the random methods' seed. */
public record FixedParameters(Map<String, Double> globals, long seed) implements ParameterSource {

    public FixedParameters {
        globals = Map.copyOf(globals);
    }

    @Override
    public TensorParameters forTensor(String tensorName) {
        return new TensorParameters() {
            @Override
            public Double global(String name) {
                return globals.get(name);
            }

            @Override
            public Double model(int model, String name) {
                return globals.get(name);
            }
        };
    }
}
