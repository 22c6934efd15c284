package dev.wudi.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.FakeGpuBackend;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.solver.SolverSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A backend without the spectral solvers (the GPU today): the merge runs WUDI on the CPU and says so once. */
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
        MergeOptions o = MergeOptions.defaults(base, models, tmp.resolve("out.safetensors"))
                .withSolver(SolverSpec.Spectral.defaults());
        try (Backend gpu = new FakeGpuBackend()) {
            MergeReport r = new Merger(o, gpu, null).run();
            assertEquals(1, r.warnings().size(), r.warnings().toString());
            assertTrue(r.warnings().get(0).contains("fake-gpu") && r.warnings().get(0).contains("cuSOLVER"));
            assertEquals("fake-gpu (WUDI on cpu)", r.device());
            TensorRecord t = r.tensors().get(0);
            assertTrue(t.lossAfter() < t.lossBefore() && t.details().containsKey("filter_param"), t.toString());
            // Adam needs no fallback
            MergeReport adam = new Merger(o.withSolver(null).withForce(true), gpu, null).run();
            assertTrue(adam.warnings().isEmpty());
            assertEquals("fake-gpu", adam.device());
        }
    }
}
