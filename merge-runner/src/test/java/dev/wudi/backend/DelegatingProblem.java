package dev.wudi.backend;

import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;

/** Test stand-in: a WudiProblem that forwards every call to another (the CPU's); override what differs. */
public class DelegatingProblem implements WudiProblem {

    protected final WudiProblem inner;

    public DelegatingProblem(WudiProblem inner) {
        this.inner = inner;
    }

    @Override
    public void addTaskVector(float[] tau) {
        inner.addTaskVector(tau);
    }

    @Override
    public int taskCount() {
        return inner.taskCount();
    }

    @Override
    public int zeroTaskCount() {
        return inner.zeroTaskCount();
    }

    @Override
    public WudiResult solveAdam(AdamConfig config, StepListener listener) {
        return inner.solveAdam(config, listener);
    }

    @Override
    public void close() {
        inner.close();
    }
}
