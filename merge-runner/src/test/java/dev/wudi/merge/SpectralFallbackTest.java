package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Capability;
import dev.wudi.backend.DelegatingProblem;
import dev.wudi.backend.FakeGpuBackend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.solver.SolverSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backend without the spectral solvers: the merge runs WUDI on the CPU and says so once. A backend that offers
 * them (the GPU) keeps WUDI, and passes on its one note when part of it runs on the CPU (no cuSOLVER).
 */
class SpectralFallbackTest {


    private static Path write(Path file, long seed, float scale) throws IOException {
        Random r = new Random(seed);
        float[] base = new float[12 * 8];
        Random b = new Random(1);
        for (int i = 0; i < base.length; i++) {
            base[i] = (float) b.nextGaussian() + (float) (scale * r.nextGaussian());
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file,
                List.of(new SafetensorsWriter.TensorSpec("layer.weight", DType.F32, new long[] {12, 8})), Map.of())) {
            w.writeFloats(base, 0, base.length);
            w.finish();
        }
        return file;
    }

    @Test
    void spectralSolverFallsBackToTheCpuWithOneWarning(@TempDir Path tmp) throws IOException {
        Path base = write(tmp.resolve("base.safetensors"), 0, 0);
        List<Path> models = List.of(write(tmp.resolve("a.safetensors"), 2, 1e-2f),
                write(tmp.resolve("b.safetensors"), 3, 1e-2f));
        MergeSpec o = MergeSpec.defaults(base, models, tmp.resolve("out.safetensors"))
                .withSolver(SolverSpec.Spectral.defaults());
        try (Backend gpu = new FakeGpuBackend()) {
            MergeReport r = new Merger(o, gpu, null).run();
            assertEquals(1, r.warnings().size(), r.warnings().toString());
            assertTrue(r.warnings().get(0).contains("fake-gpu") && r.warnings().get(0).contains("CPU"), r.warnings().get(0));
            assertEquals("fake-gpu (WUDI on cpu)", r.device());
            TensorRecord t = r.tensors().get(0);
            assertTrue(t.lossAfter() < t.lossBefore() && t.details().containsKey("filter_param"), t.toString());
            // Adam needs no fallback
            MergeReport adam = new Merger(o.withSolver(new SolverSpec.Adam(dev.wudi.solver.AdamConfig.paper())).withForce(true), gpu, null).run();
            assertTrue(adam.warnings().stream().noneMatch(w -> w.contains("fake-gpu") || w.contains("CPU")),
                    adam.warnings().toString());
            assertEquals("fake-gpu", adam.device());
        }
    }

    /** Offers the spectral solvers (the CPU's underneath) but, like a GPU without cuSOLVER, says so once. */
    private static final class SpectralBackend extends FakeGpuBackend {
        @Override
        public WudiProblem newProblem(String tensorName, int rows, int cols) {
            return new DelegatingProblem(cpu.newProblem(tensorName, rows, cols)) {
                @Override
                public WudiResult solve(SolverSpec spec, StepListener listener) {
                    return inner.solve(spec, listener);
                }
            };
        }

        @Override
        public Set<Capability> capabilities() {
            return EnumSet.of(Capability.SPECTRAL_SOLVERS);
        }

        @Override
        public String spectralSolversNote() {
            return "cuSOLVER is not available (test); the eigendecompositions run on the CPU";
        }
    }

    @Test
    void aBackendWithSpectralSolversKeepsWudiAndPassesOnItsNoteOnce(@TempDir Path tmp) throws IOException {
        Path base = write(tmp.resolve("base.safetensors"), 0, 0);
        List<Path> models = List.of(write(tmp.resolve("a.safetensors"), 2, 1e-2f),
                write(tmp.resolve("b.safetensors"), 3, 1e-2f));
        MergeSpec o = MergeSpec.defaults(base, models, tmp.resolve("out.safetensors"))
                .withSolver(new SolverSpec.Exact(0.01));
        try (Backend gpu = new SpectralBackend()) {
            MergeReport r = new Merger(o, gpu, null).run();
            assertEquals(List.of("cuSOLVER is not available (test); the eigendecompositions run on the CPU"), r.warnings());
            assertEquals("fake-gpu", r.device());
            TensorRecord t = r.tensors().get(0);
            assertTrue(t.lossAfter() < t.lossBefore() && t.details().containsKey("filter_param"), t.toString());
            MergeReport adam = new Merger(o.withSolver(new SolverSpec.Adam(dev.wudi.solver.AdamConfig.paper())).withForce(true), gpu, null).run();
            assertTrue(adam.warnings().stream().noneMatch(w -> w.contains("cuSOLVER")),
                    "Adam needs no eigendecomposition: " + adam.warnings());
        }
    }
}
