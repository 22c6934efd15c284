package dev.wudi.merge;

/** Progress of a merge, for the progress bar and for tests. All methods default to doing nothing. */
public interface MergeListener {

    default void started(int tensors, long totalWork) {
    }

    default void tensorStarted(int index, String name, String method) {
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
