package dev.wudi.cli;

import dev.wudi.merge.Cancellation;
import java.io.PrintStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * SIGINT and SIGTERM during a merge. The JVM runs shutdown hooks on either signal; ours asks the merge
 * to stop at its next safe point, waits for the merge's own cleanup (the partial output kept for
 * --resume, or the temporary output removed), prints the one line that says which, and lets the JVM exit
 * with the signal's status: 130 for SIGINT, 143 for SIGTERM. SIGKILL runs nothing; the journal makes
 * that case resumable too.
 */
final class Interrupts {

    static final int EXIT_INTERRUPTED = 130;

    /** How long the hook waits for the merge to reach a safe point (a long matrix product may be running). */
    private static final long WAIT_SECONDS = 20;

    private final Cancellation cancel;
    private final PrintStream err;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile String outcome;
    private final Thread hook;

    private Interrupts(Cancellation cancel, PrintStream err) {
        this.cancel = cancel;
        this.err = err;
        this.hook = new Thread(this::onSignal, "wudi-interrupt");
    }

    static Interrupts install(Cancellation cancel, PrintStream err) {
        Interrupts i = new Interrupts(cancel, err);
        Runtime.getRuntime().addShutdownHook(i.hook);
        return i;
    }

    private void onSignal() {
        cancel.request("interrupted");
        try {
            if (!stopped.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
                err.println("wudi: interrupted; the merge did not stop within " + WAIT_SECONDS + " s, so any"
                        + " partial output stays as it is: rerun with --resume to continue it");
                err.flush();
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        if (outcome != null) {
            err.println("wudi: " + outcome);
            err.flush();
        }
    }

    /** The merge stopped on request; message says what became of the output. */
    void stopped(String message) {
        outcome = message;
        stopped.countDown();
    }

    /** The merge ended (done or failed) without a signal: the hook is no longer needed. */
    void uninstall() {
        stopped.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // a signal arrived as the merge ended: the hook runs and finds the merge already stopped
        }
    }
}
