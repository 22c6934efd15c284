package dev.wudi.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Where WUDI's work runs ({@link Placement}): on the devices asked for where they offer it, else on the CPU with the
 * one line that says why; the CPU opened once, shared, and closed with the placement.
 */
class PlacementTest {

    /** The CPU backends a placement opens, each counted when closed. */
    static final class Cpus implements Supplier<Backend> {
        final List<Backend> opened = new ArrayList<>();
        int closed;

        @Override
        public Backend get() {
            Backend cpu = Backends.cpu(1);
            Backend counted = new Backend() {
                @Override
                public String name() {
                    return cpu.name();
                }

                @Override
                public String describe() {
                    return cpu.describe();
                }

                @Override
                public WudiProblem newProblem(String tensorName, int rows, int cols) {
                    return cpu.newProblem(tensorName, rows, cols);
                }

                @Override
                public Set<Capability> capabilities() {
                    return cpu.capabilities();
                }

                @Override
                public void close() {
                    closed++;
                    cpu.close();
                }
            };
            opened.add(counted);
            return counted;
        }
    }

    /** Runs the spectral solvers with its eigendecompositions elsewhere, as the GPU without cuSOLVER. */
    static final class SpectralInPart extends FakeGpuBackend {
        @Override
        public Set<Capability> capabilities() {
            return EnumSet.of(Capability.SPECTRAL_SOLVERS, Capability.ASYNCHRONOUS);
        }

        @Override
        public String spectralSolversNote() {
            return "eigendecompositions on the CPU (test)";
        }
    }

    @Test
    void adamRunsOnTheDevicesAskedForAndOpensNothing() {
        Cpus cpus = new Cpus();
        try (Backend gpu = new FakeGpuBackend(); Placement placement = new Placement(gpu, cpus)) {
            Placement.Placed p = placement.forSolver(new SolverSpec.Adam(AdamConfig.paper()));
            assertSame(gpu, p.backend());
            assertNull(p.note());
        }
        assertEquals(0, cpus.opened.size());
    }

    @Test
    void theExactSolverWithoutARidgeRunsOnTheCpuInDoubleWhereTheDeviceFormsCInFloat32() {
        Cpus cpus = new Cpus();
        try (Backend gpu = new SpectralInPart(); Placement placement = new Placement(gpu, cpus)) {
            Placement.Placed exact = placement.forSolver(new SolverSpec.Exact(0));
            assertSame(cpus.opened.get(0), exact.backend());
            assertTrue(exact.note().contains("fake-gpu forms C in float32: WUDI runs on the CPU in double"),
                    exact.note());
            // with a ridge it needs no double, and the device's own note is passed on
            Placement.Placed ridge = placement.forSolver(new SolverSpec.Exact(0.01));
            assertSame(gpu, ridge.backend());
            assertEquals("eigendecompositions on the CPU (test)", ridge.note());
        }
        try (Backend cpu = Backends.cpu(1); Placement placement = new Placement(cpu, cpus)) {
            Placement.Placed exact = placement.forSolver(new SolverSpec.Exact(0));
            assertSame(cpu, exact.backend(), "the CPU solves it in double itself");
            assertNull(exact.note());
        }
        assertEquals(1, cpus.opened.size());
    }

    @Test
    void aSpectralSolverTheDeviceDoesNotRunGoesToTheCpu() {
        Cpus cpus = new Cpus();
        try (Backend gpu = new FakeGpuBackend(); Placement placement = new Placement(gpu, cpus)) {
            Placement.Placed p = placement.forSolver(SolverSpec.Spectral.defaults());
            assertSame(cpus.opened.get(0), p.backend());
            assertEquals("--solver spectral has no implementation on fake-gpu (no eigendecomposition there); WUDI runs"
                    + " on the CPU for this merge", p.note());
        }
    }

    @Test
    void theLowRankSolveRunsWhereItIsOfferedElseOnTheCpuWithOneNote() {
        Cpus cpus = new Cpus();
        try (Backend gpu = new FakeGpuBackend(); Backend cpu = Backends.cpu(1);
             Placement placement = new Placement(gpu, cpus)) {
            Placement.Placed onCpu = placement.forLowRank(cpu);
            assertSame(cpu, onCpu.backend());
            assertNull(onCpu.note());
            Placement.Placed moved = placement.forLowRank(gpu);
            assertSame(cpus.opened.get(0), moved.backend());
            assertTrue(moved.note().startsWith("fake-gpu does not solve WUDI on LoRA factors"), moved.note());
            assertEquals(moved, placement.forLowRank(gpu), "the same backend and line for every tensor");
        }
    }

    @Test
    void aTensorTooLargeForItsDeviceGoesToTheCpuNamedInTheNote() {
        Cpus cpus = new Cpus();
        try (Backend gpu = new FakeGpuBackend(); Placement placement = new Placement(gpu, cpus)) {
            DeviceMemoryException why = new DeviceMemoryException("big.weight", 4096, 11008, 1L << 40, 1L << 30,
                    "fake-gpu");
            Placement.Placed p = placement.afterDeviceMemory(why);
            assertSame(cpus.opened.get(0), p.backend());
            assertEquals(why.getMessage() + " -> merging it on the CPU", p.note());
            assertSame(p.backend(), placement.afterDevicesFailed().backend());
        }
    }

    @Test
    void oneCpuIsSharedByEveryDecisionAndClosedWithThePlacement() {
        Cpus cpus = new Cpus();
        try (Backend gpu = new FakeGpuBackend()) {
            Placement placement = new Placement(gpu, cpus);
            Backend first = placement.forSolver(SolverSpec.Spectral.defaults()).backend();
            assertSame(first, placement.forLowRank(gpu).backend());
            assertSame(first, placement.afterDevicesFailed().backend());
            assertEquals(1, cpus.opened.size());
            placement.close();
            placement.close();
            assertEquals(1, cpus.closed, "closed once");
            // a later merge of the same placement opens a CPU of its own
            Backend second = placement.afterDevicesFailed().backend();
            assertEquals(2, cpus.opened.size());
            assertSame(cpus.opened.get(1), second);
            placement.close();
            assertEquals(2, cpus.closed);
        }
    }
}
