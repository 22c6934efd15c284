package dev.wudi.merge;

/**
 * The merge stopped because it was asked to ({@link Cancellation}). Its message is the one line the
 * user sees: what was interrupted and what happened to the output (kept for --resume, or removed).
 */
public final class MergeInterruptedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MergeInterruptedException(String message) {
        super(message);
    }
}
