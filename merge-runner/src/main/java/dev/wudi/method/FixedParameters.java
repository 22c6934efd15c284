package dev.wudi.method;

import java.util.Map;

/** The command line's method parameters: the same global values for every tensor, and the random methods' seed. */
public record FixedParameters(Map<String, Double> globals, long seed) implements ParameterSource {

    public FixedParameters {
        globals = Map.copyOf(globals);
    }

    /**
     * The global values ("t 0.3"); the seed is the method's own setting, which its description names. These are the
     * command line's own options, so none replaces a setting the reports list.
     */
    @Override
    public String describe() {
        java.util.List<String> parts = new java.util.ArrayList<>();
        new java.util.TreeMap<>(globals).forEach((k, v) -> parts.add(k + " " + v));
        return String.join(", ", parts);
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
