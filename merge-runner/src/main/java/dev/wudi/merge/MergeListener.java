package dev.wudi.merge;

/** Progress of a merge, for the progress bar and for tests. All methods default to doing nothing. */
public interface MergeListener {

    default void started(int tensors, long totalWork) {
    }

    /**
     * The merge begins: {@code tensors} in all, {@code optimised} of them optimised by WUDI (one line each), and the
     * estimated work (microseconds at nominal rates, {@link CostModel}).
     */
    default void started(int tensors, int optimised, long totalWork) {
        started(tensors, totalWork);
    }

    /**
     * Before {@link #started}: of a method other than WUDI, this many tensors also report WUDI's interference loss of
     * the result (--interference-loss), one line each as an optimised tensor would.
     */
    default void scoring(int tensors) {
    }

    default void tensorStarted(int index, String name, String method) {
    }

    /** As {@link #tensorStarted(int, String, String)}, with the tensor's share of the estimated work. */
    default void tensorStarted(int index, String name, String method, long work) {
        tensorStarted(index, name, method);
    }

    /** An Adam step of the current tensor finished. */
    default void step(int t, int of) {
    }

    /** work: the share of totalWork this tensor accounted for. */
    default void tensorDone(TensorRecord record, long work) {
    }

    default void warning(String message) {
    }

    /** Something the user should know that is not a problem (resuming, replacing an old partial output). */
    default void info(String message) {
    }
}
