package dev.wudi.backend;

import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;

/**
 * Optional extension of {@link WudiProblem} for backends that compute asynchronously (the GPU): the solve
 * is queued and the call returns at once, so the caller can read and add the NEXT tensor's task vectors
 * (whose uploads then overlap this solve) before collecting this result. The existing methods keep their
 * meaning; a merge loop uses this only through {@code instanceof}:
 * <pre>
 *   Pending pending = (p instanceof AsyncWudiProblem a) ? a.solveAdamAsync(cfg) : null;
 *   ... next tensor: newProblem + addTaskVector ...
 *   WudiResult r = pending != null ? pending.await() : p.solveAdam(cfg, listener);
 *   p.close();
 * </pre>
 */
public interface AsyncWudiProblem extends WudiProblem {

    /**
     * Queues the whole solve of {@link #solveAdam} (no per-step listener) and returns at once. The problem
     * must stay open until {@link Pending#await()} has returned; no task vector may be added meanwhile.
     *
     * @throws IllegalStateException if no task vector was added
     */
    Pending solveAdamAsync(AdamConfig config);

    /** A queued solve. */
    interface Pending {
        /** Blocks until the solve is done; returns the same result solveAdam would have. Call once. */
        WudiResult await();

        /**
         * As {@link #await()}, telling {@code listener} of the steps while it waits, as the device finishes them (a
         * few steps at a time: never a wait per step). The solve was queued without a listener, so it computed the
         * loss at none of the steps: each is told with NaN. A listener that throws ends the wait with its exception;
         * the problem's close then waits for the queued work. This default tells nothing.
         */
        default WudiResult await(StepListener listener) {
            return await();
        }
    }
}
