package dev.wudi.solver;

import java.util.function.IntConsumer;

/** Observes a solver step by step: progress, cancellation, tests. */
@FunctionalInterface
public interface StepListener {
    /**
     * Called after step t (1-based) with the loss at the iterate the step's gradient was taken at, or
     * NaN where {@link #wantsLoss()} is false and the backend skipped it.
     */
    void afterStep(int t, double lossAtStepStart);

    /**
     * False if this listener ignores the loss: a backend may then skip computing it at every step (on
     * the CPU a double reduction over the whole weight, dearer than the Adam update itself) and pass
     * NaN. {@link WudiResult}'s losses before and after are computed either way.
     */
    default boolean wantsLoss() {
        return true;
    }

    /** A listener told of each finished step and not of the loss (progress, cancellation, timing). */
    static StepListener stepsOnly(IntConsumer afterStep) {
        return new StepListener() {
            @Override
            public void afterStep(int t, double lossAtStepStart) {
                afterStep.accept(t);
            }

            @Override
            public boolean wantsLoss() {
                return false;
            }
        };
    }
}
