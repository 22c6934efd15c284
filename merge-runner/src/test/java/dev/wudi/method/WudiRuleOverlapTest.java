package dev.wudi.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.backend.Capability;
import dev.wudi.backend.FakeGpuBackend;
import dev.wudi.backend.RawBytesProblem;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.backend.DeviceMemoryException;
import dev.wudi.format.DType;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.Merger;
import dev.wudi.solver.AdamConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The merge loop's use of the optional backend extensions, driven by a stand-in "device" that wraps the
 * CPU backend: the next WUDI tensor is loaded while the current solve is queued, 16-bit checkpoints are
 * handed over as raw bytes, and a tensor that does not fit is merged on the CPU; the output is the same,
 * byte for byte, as a plain CPU merge.
 */
class WudiRuleOverlapTest {

    @TempDir
    Path tmp;

    /** Wraps the CPU: async solves run at await(); raw bytes are widened here; "big" tensors do not fit. */
    static final class StandInDevice extends FakeGpuBackend {
        final List<String> events = new ArrayList<>();

        @Override
        public Set<Capability> capabilities() {
            return EnumSet.of(Capability.TASK_VECTORS_FROM_CHECKPOINT, Capability.ASYNCHRONOUS);
        }

        @Override
        public WudiProblem newProblem(String tensor, int rows, int cols) {
            if (tensor.contains("big")) {
                events.add("too-big " + tensor);
                throw new DeviceMemoryException(tensor, rows, cols, 1L << 40, 1L << 30, "stand-in");
            }
            events.add("new " + tensor);
            return new Problem(tensor, cpu.newProblem(tensor, rows, cols), rows * cols);
        }

        final class Problem extends RawBytesProblem {
            Problem(String tensor, WudiProblem inner, int n) {
                super(tensor, inner, n);
            }

            @Override
            public void setBase(ByteBuffer b, DType d) {
                super.setBase(b, d);
                events.add("raw-base " + tensor);
            }

            @Override
            public WudiResult solveAdam(AdamConfig config, StepListener listener) {
                events.add("solve " + tensor);
                return inner.solveAdam(config, listener);
            }

            @Override
            public Pending solveAdamAsync(AdamConfig config) {
                events.add("queue " + tensor);
                return () -> {
                    events.add("await " + tensor);
                    return inner.solveAdam(config, null);
                };
            }

        }
    }

    private static void write(Path file, DType dtype, long seed) throws IOException {
        ToyCheckpoints.write(file, dtype, seed, "a.weight", "b.weight", "norm.weight", "big.weight", "c.weight");
    }

    @Test
    void overlapsLoadsFallsBackAndMatchesTheCpuByteForByte() throws IOException {
        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            Path base = tmp.resolve("base-" + dtype + ".safetensors");
            List<Path> models = List.of(tmp.resolve("m1-" + dtype + ".safetensors"), tmp.resolve("m2-" + dtype + ".safetensors"));
            write(base, dtype, 0);
            write(models.get(0), dtype, 1);
            write(models.get(1), dtype, 2);
            AdamConfig adam = AdamConfig.paper().withLr(1e-3f).withIterations(40);
            Path viaDevice = tmp.resolve("device-" + dtype + ".safetensors");
            Path viaCpu = tmp.resolve("cpu-" + dtype + ".safetensors");
            List<String> warnings = new ArrayList<>();
            try (StandInDevice device = new StandInDevice(); Backend cpu = Backends.cpu(1)) {
                new Merger(MergeSpec.defaults(base, models, viaDevice).withAdam(adam), device,
                        new dev.wudi.merge.MergeListener() {
                            @Override
                            public void warning(String message) {
                                warnings.add(message);
                            }
                        }).run();
                new Merger(MergeSpec.defaults(base, models, viaCpu).withAdam(adam), cpu, null).run();
                assertEquals(List.of("new a.weight", "raw-base a.weight", "queue a.weight", "new b.weight",
                        "raw-base b.weight", "await a.weight", "queue b.weight", "too-big big.weight", "await b.weight",
                        "too-big big.weight", "new c.weight", "raw-base c.weight", "solve c.weight"), device.events,
                        dtype + ": b is loaded while a's solve is queued; big falls back; c is last");
            }
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.get(0).contains("big.weight") && warnings.get(0).contains("CPU"), warnings.get(0));
            assertArrayEquals(Files.readAllBytes(viaCpu), Files.readAllBytes(viaDevice), dtype + " output");
        }
    }
}
