package dev.wudi.merge;

import dev.wudi.checkpoint.CheckpointException;

/**
 * A computed tensor holds a value that is not finite in its output dtype (NaN, an infinity, or a float32 too large
 * for F16/BF16): found as the tensor is written, before its last bytes reach the output, so no non-finite model is
 * ever completed. {@link Merger} adds the method and the likely cause to the message.
 */
final class NonFiniteResult extends CheckpointException {

    private static final long serialVersionUID = 1L;

    private final long element;
    private final float value;

    NonFiniteResult(String tensor, long element, float value) {
        this(element, value, "tensor " + tensor + ": the merged value at element " + element + " is " + value);
    }

    private NonFiniteResult(long element, float value, String message) {
        super(message);
        this.element = element;
        this.value = value;
    }

    /** The flat index of the first offending value. */
    long element() {
        return element;
    }

    /** Its float32 value before narrowing (finite where only the output dtype overflows). */
    float value() {
        return value;
    }

    /** The same failure with a fuller message. */
    NonFiniteResult withMessage(String message) {
        return new NonFiniteResult(element, value, message);
    }
}
