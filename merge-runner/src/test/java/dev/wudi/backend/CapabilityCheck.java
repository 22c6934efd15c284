package dev.wudi.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.lora.LowRankWudi;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.WudiResult;
import dev.wudi.solver.spectral.SpectralFilter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Set;

/**
 * A backend offers exactly what its {@link Backend#capabilities()} list: each ability listed works (and gives what
 * the plain path gives), each one not listed refuses or says no. The merge loop trusts that list instead of types,
 * so every backend's tests run this on it (the CPU's in CapabilitiesTest, CUDA's in CudaWudiProblemGpuTest).
 */
public final class CapabilityCheck {

    private static final int ROWS = 12;
    private static final int COLS = 8;

    private CapabilityCheck() {
    }

    public static void assertOffersWhatItLists(Backend b) {
        Set<Capability> can = b.capabilities();
        List<float[]> taus = BackendParityTest.tasks(3, ROWS, COLS, 5);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-3f).withIterations(10);
        WudiResult plain = BackendParityTest.solve(b, ROWS, COLS, taus, cfg);
        try (WudiProblem p = b.newProblem("capability.weight", ROWS, COLS)) {
            float[] w0 = new float[ROWS * COLS];
            ByteBuffer base = f32(w0);
            if (can.contains(Capability.TASK_VECTORS_FROM_CHECKPOINT)) {
                p.setBase(base, DType.F32);
                taus.forEach(t -> p.addFineTuned(f32(t)));   // W_i = 0 + tau_i
                assertEquals(taus.size(), p.taskCount(), b.name() + ": task vectors from checkpoint bytes");
            } else {
                assertThrows(UnsupportedOperationException.class, () -> p.setBase(base, DType.F32), b.name());
                assertThrows(UnsupportedOperationException.class, () -> p.addFineTuned(base), b.name());
                taus.forEach(p::addTaskVector);
            }
            boolean merged = p.mergeOnDevice(DType.F32);
            boolean offered = can.contains(Capability.MERGED_OUTPUT)
                    && can.contains(Capability.TASK_VECTORS_FROM_CHECKPOINT);   // it merges onto a W_0 it was given
            assertEquals(offered, merged, b.name() + ": merged output");
            WudiResult r;
            if (can.contains(Capability.ASYNCHRONOUS)) {
                r = p.solveAdamAsync(cfg).await();
            } else {
                assertThrows(UnsupportedOperationException.class, () -> p.solveAdamAsync(cfg), b.name());
                r = p.solveAdam(cfg, null);
            }
            float[] tauM = merged ? floats(p.mergedWeights()) : r.tauM();   // W_0 = 0: W = tau_m
            assertArrayEquals(plain.tauM(), tauM, b.name() + ": the same tau_m by every path");
            if (!merged) {
                assertThrows(IllegalStateException.class, p::mergedWeights, b.name());
            }
        }
        try (WudiProblem p = b.newProblem("spectral.weight", ROWS, COLS)) {
            taus.forEach(p::addTaskVector);
            if (can.contains(Capability.SPECTRAL_SOLVERS)) {
                WudiResult r = p.solve(SolverSpec.Spectral.defaults(), null);
                assertTrue(r.lossAfter() < r.lossBefore(), b.name() + ": the spectral solver lowers the loss");
            } else {
                assertThrows(UnsupportedOperationException.class, () -> p.solve(SolverSpec.Spectral.defaults(), null),
                        b.name());
            }
        }
        float[] p = new float[ROWS];
        float[] q = new float[COLS];
        p[1] = 1;
        q[2] = 1;
        List<LowRankWudi.Factors> factors = List.of(new LowRankWudi.Factors(p, q, 1, 0.5));
        SpectralFilter exact = new SpectralFilter(SpectralFilter.Kind.EXACT, 0, 0);
        if (can.contains(Capability.LOW_RANK_SOLVE)) {
            LowRankWudi.Solution s = b.solveLowRank(ROWS, COLS, factors, exact);
            assertEquals(0.5f, s.dense()[COLS + 2], 1e-6f, b.name() + ": one task vector is its own merge");
        } else {
            assertThrows(UnsupportedOperationException.class, () -> b.solveLowRank(ROWS, COLS, factors, exact),
                    b.name());
        }
        if (can.contains(Capability.HOST)) {
            assertTrue(can.containsAll(Set.of(Capability.SPECTRAL_SOLVERS, Capability.EXACT_IN_DOUBLE,
                    Capability.LOW_RANK_SOLVE)), b.name() + ": the host is where the placement sends what a device"
                    + " lacks, so it offers every solver");
        }
    }

    private static ByteBuffer f32(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b;
    }

    private static float[] floats(ByteBuffer b) {
        float[] out = new float[b.remaining() / 4];
        b.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }
}
