package dev.wudi.method;

/**
 * The method parameters that apply to one tensor: global ones and each model's, already resolved for this tensor
 * (a mergekit config's gradients over the layers and name filters; {@code dev.wudi.config}). A rule asks for a value
 * and applies its own default where none is given.
 */
public interface TensorParameters {

    /** No parameters given: every rule uses its defaults (or the values it was built with). */
    TensorParameters NONE = new TensorParameters() {
        @Override
        public Double global(String name) {
            return null;
        }

        @Override
        public Double model(int model, String name) {
            return null;
        }
    };

    /** A global parameter's value for this tensor, or null where it is not given. */
    Double global(String name);

    /**
     * Model {@code model}'s value (its 0-based index in --model order) for this tensor, else the global value, else
     * null.
     */
    Double model(int model, String name);

    /** {@link #global} or a default. */
    default double global(String name, double otherwise) {
        Double v = global(name);
        return v != null ? v : otherwise;
    }

    /** {@link #model} or a default. */
    default double model(int model, String name, double otherwise) {
        Double v = model(model, name);
        return v != null ? v : otherwise;
    }
}
