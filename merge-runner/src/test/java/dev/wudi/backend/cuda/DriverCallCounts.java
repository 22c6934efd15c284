package dev.wudi.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.solver.AdamConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the GPU engine asks of the driver, counted on the emulated one ({@link DriverTrace}): no host wait inside the
 * step loop except every {@link AdamRun#PROGRESS_EVERY} steps, one product and one kernel per step, and, once a merge
 * is warm, no allocation at all per tensor. Runs only where the emulated driver is loaded (EmulatedGpuMain, in
 * EmulatedGpuTest's child JVM): its name does not end in Test, so Maven does not run it on its own.
 */
class DriverCallCounts {

    private static Backend gpu;

    @BeforeEach
    void needTheEmulatedDriver() {
        Assumptions.assumeTrue(DriverTrace.available(), "needs the emulated driver's call trace (run by EmulatedGpuTest)");
        if (gpu == null) {
            gpu = CudaBackends.open(0, false);
        }
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
            gpu = null;
        }
    }

    private static WudiProblem loaded(String name, int rows, int cols, int tasks, long seed) {
        WudiProblem p = gpu.newProblem(name, rows, cols);
        for (float[] t : CudaWudiProblemGpuTest.tasks(tasks, rows, cols, seed)) {
            p.addTaskVector(t);
        }
        return p;
    }

    /** The calls between the first and the last Adam step's kernel (the steps 2 .. T-1 and their products). */
    private static String stepLoop(String trace) {
        int first = trace.indexOf('M');
        int last = trace.lastIndexOf('M');
        assertTrue(first >= 0 && last > first, "two Adam kernels or more in " + trace);
        return trace.substring(first + 1, last);
    }

    private static String summary(String calls) {
        return "host waits " + DriverTrace.count(calls, "S") + ", products " + DriverTrace.count(calls, "G")
                + ", Adam kernels " + DriverTrace.count(calls, "M") + ", other kernels " + DriverTrace.count(calls, "K")
                + ", copies " + DriverTrace.count(calls, "C") + ", event records " + DriverTrace.count(calls, "R")
                + ", allocations " + DriverTrace.count(calls, "AP") + ", frees " + DriverTrace.count(calls, "Fp");
    }

    /** A merge's listener (Merger passes one that reports progress and checks for an interruption every step). */
    @Test
    void theStepLoopWaitsForTheDeviceOnlyEveryKSteps() {
        int steps = 300;
        int k = AdamRun.PROGRESS_EVERY;
        List<Integer> told = new ArrayList<>();
        try (WudiProblem p = loaded("counts.steps", 48, 40, 3, 1)) {
            DriverTrace.reset();
            WudiResult r = p.solveAdam(AdamConfig.paper().withIterations(steps), StepListener.stepsOnly(told::add));
            assertEquals(steps, r.steps());
        }
        String loop = stepLoop(DriverTrace.read());
        String what = summary(loop) + " between the first and the last of " + steps + " steps";
        System.out.println("COUNTS step loop, listener without loss: " + what);
        assertTrue(DriverTrace.count(loop, "S") <= steps / k, what);
        assertEquals(steps - 2, DriverTrace.count(loop, "M"), what);
        assertEquals(steps - 1, DriverTrace.count(loop, "G"), "one product P = tau_m C per step: " + what);
        assertTrue(DriverTrace.count(loop, "K") <= 1, "the loss is reduced at the first step only: " + what);
        assertTrue(DriverTrace.count(loop, "C") <= steps / k, "a copy at most every K steps: " + what);
        for (int t = 1; t <= steps; t++) {
            assertEquals(t, told.get(t - 1), "every step is told, in order");
        }
        assertEquals(steps, told.size());
    }

    /** A listener that wants the loss at every step gets it without waiting for the device at every step. */
    @Test
    void theLossOfEveryStepStillCostsNoWaitPerStep() {
        int steps = 100;
        int k = AdamRun.PROGRESS_EVERY;
        List<Double> losses = new ArrayList<>();
        WudiResult r;
        try (WudiProblem p = loaded("counts.loss", 24, 16, 2, 2)) {
            DriverTrace.reset();
            r = p.solveAdam(AdamConfig.paper().withIterations(steps), (t, loss) -> losses.add(loss));
        }
        String loop = stepLoop(DriverTrace.read());
        String what = summary(loop) + " between the first and the last of " + steps + " steps";
        System.out.println("COUNTS step loop, listener with loss: " + what);
        assertTrue(DriverTrace.count(loop, "S") <= steps / k, what);
        assertEquals(steps, losses.size());
        assertEquals(r.lossBefore(), losses.get(0), "the first step's loss is the loss before");
        for (double l : losses) {
            assertTrue(Double.isFinite(l) && l >= 0, "every step's loss is there: " + losses);
        }
    }

    /** The production path (WudiRule): the solve is queued and the host goes on at once. */
    @Test
    void aQueuedSolveDoesNotWait() {
        try (WudiProblem p = loaded("counts.async", 48, 40, 3, 3)) {
            DriverTrace.reset();
            WudiProblem.Pending pending = p.solveAdamAsync(AdamConfig.paper().withIterations(50));
            String queued = DriverTrace.read();
            System.out.println("COUNTS queueing a 50-step solve: " + summary(queued));
            assertEquals(0, DriverTrace.count(queued, "S"), "queueing waits for nothing: " + summary(queued));
            assertEquals(50, DriverTrace.count(queued, "M"), summary(queued));
            pending.await();
        }
    }

    /**
     * A merge as WudiRule runs it (the next tensor read and uploaded while this one solves), over tensors of two shapes:
     * once each shape has been seen twice in a row (two tensors are in flight at a time: the second allocates what the
     * first still holds), no tensor allocates device memory, pinned memory, events or streams.
     */
    @Test
    void aWarmMergeAllocatesNothingPerTensor() {
        int[][] shapes = {{48, 40}, {48, 40}, {24, 72}, {24, 72}, {48, 40}, {24, 72}, {24, 72}, {48, 40}, {48, 40}, {24, 72}};
        AdamConfig cfg = AdamConfig.paper().withIterations(12);
        List<String> perTensor = new ArrayList<>();
        DriverTrace.reset();
        WudiProblem current = loaded("counts.warm.0", shapes[0][0], shapes[0][1], 3, 10);
        for (int i = 0; i < shapes.length; i++) {
            WudiProblem.Pending pending = current.solveAdamAsync(cfg);
            WudiProblem next = i + 1 < shapes.length
                    ? loaded("counts.warm." + (i + 1), shapes[i + 1][0], shapes[i + 1][1], 3, 11 + i) : null;
            pending.await();
            current.close();
            perTensor.add(DriverTrace.read());
            DriverTrace.reset();
            current = next;
        }
        StringBuilder table = new StringBuilder();
        for (int i = 0; i < perTensor.size(); i++) {
            table.append(String.format("%n  tensor %d [%d, %d]: %s", i, shapes[i][0], shapes[i][1], summary(perTensor.get(i))));
        }
        System.out.println("COUNTS warm merge:" + table);
        for (int i = 4; i < perTensor.size(); i++) {
            String t = perTensor.get(i);
            assertEquals(0, DriverTrace.count(t, "APET"), "tensor " + i + " allocated:" + table);
            assertEquals(0, DriverTrace.count(t, "Fp"), "tensor " + i + " freed:" + table);
        }
    }
}
