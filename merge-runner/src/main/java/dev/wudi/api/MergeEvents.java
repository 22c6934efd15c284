package dev.wudi.api;

/**
 * What a running {@link CheckpointMerge} tells its caller, for progress displays and logs. Every method has an
 * empty default, so an implementation overrides only what it needs.
 *
 * <p>Threading: called on the thread that runs {@link CheckpointMerge#run()}, in the order below, never
 * concurrently; a slow implementation slows the merge. An exception thrown here ends the merge with that exception
 * (the partial output is removed).
 */
public interface MergeEvents {

    /**
     * The merge begins.
     *
     * @param tensors   tensors the output will hold
     * @param optimised of them, those WUDI optimises (the others are copied or merged element-wise)
     * @param estimatedSeconds the whole merge's estimate at nominal CPU rates (a rough guide, not a promise)
     */
    default void started(int tensors, int optimised, double estimatedSeconds) {
    }

    /**
     * Tensor {@code index} (0-based, in output order) begins, merged by {@code method} ("wudi", "base", ...).
     *
     * @param index the tensor's position in the output, from 0
     * @param name its name in the output
     * @param method what merges it
     */
    default void tensorStarted(int index, String name, String method) {
    }

    /**
     * Step {@code step} of {@code steps} of the current tensor's Adam optimisation finished.
     *
     * @param step the step just finished, from 1
     * @param steps the steps of this tensor
     */
    default void step(int step, int steps) {
    }

    /**
     * A tensor is written (its losses NaN where no interference loss applies).
     *
     * @param tensor what was done to it
     */
    default void tensorDone(TensorResult tensor) {
    }

    /**
     * Something the user should look at; the merge goes on. One line, no trailing newline.
     *
     * @param message the warning
     */
    default void warning(String message) {
    }

    /**
     * Something worth knowing that is not a problem (resuming, a removed old partial output). One line.
     *
     * @param message the note
     */
    default void info(String message) {
    }
}
