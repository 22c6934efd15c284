package dev.wudi.merge;

/**
 * A request to stop a merge (SIGINT, SIGTERM), set from another thread and honoured by the merge at its
 * next safe point: between chunks, Adam steps and tensors. Stopping there, rather than wherever the
 * signal lands, lets the merge's own cleanup run: the journal is consistent at every such point.
 */
public final class Cancellation {

    private volatile String reason;

    /** Asks the merge to stop; the first reason given wins. */
    public void request(String why) {
        synchronized (this) {
            if (reason == null) {
                reason = why;
            }
        }
    }

    public boolean requested() {
        return reason != null;
    }

    /** @throws MergeInterruptedException when a stop was requested */
    public void check() {
        String r = reason;
        if (r != null) {
            throw new MergeInterruptedException(r);
        }
    }
}
