package dev.wudi.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.backend.Capability;
import dev.wudi.backend.FakeGpuBackend;
import dev.wudi.backend.RawBytesProblem;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.format.DType;
import dev.wudi.format.Floats;
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
 * The merge loop's use of {@link Capability#MERGED_OUTPUT}, driven by a stand-in "device" over the CPU backend
 * that hands back W_0 + tau_m already encoded (and an empty tau_m, as the GPU does): WudiRule writes those
 * bytes as they are, and the output file is byte for byte the CPU merge's, for the base's dtype and for
 * another output dtype.
 */
class WudiRuleMergedOutputTest {

    @TempDir
    Path tmp;

    /** Raw bytes in, encoded merged weight out; everything else on the CPU backend. */
    static final class StandInDevice extends FakeGpuBackend {
        final List<String> events = new ArrayList<>();

        @Override
        public Set<Capability> capabilities() {
            return EnumSet.of(Capability.TASK_VECTORS_FROM_CHECKPOINT, Capability.MERGED_OUTPUT);
        }

        @Override
        public WudiProblem newProblem(String tensor, int rows, int cols) {
            return new Problem(tensor, cpu.newProblem(tensor, rows, cols), rows * cols);
        }

        final class Problem extends RawBytesProblem {
            DType out;
            ByteBuffer merged;

            Problem(String tensor, WudiProblem inner, int n) {
                super(tensor, inner, n);
            }

            @Override
            public boolean mergeOnDevice(DType o) {
                if (w0 == null) {
                    return false;
                }
                out = o;
                events.add("merge-on-device " + tensor + " " + o);
                return true;
            }

            @Override
            public ByteBuffer mergedWeights() {
                events.add("raw-out " + tensor);
                return merged;
            }

            @Override
            public WudiResult solveAdam(AdamConfig config, StepListener listener) {
                WudiResult r = inner.solveAdam(config, listener);
                if (out == null) {
                    return r;
                }
                float[] w = new float[n];
                for (int j = 0; j < n; j++) {
                    w[j] = w0[j] + r.tauM()[j];
                }
                merged = ByteBuffer.allocate(n * out.bytes());
                Floats.encode(out, w, 0, n, merged);
                merged.flip();
                return new WudiResult(new float[0], r.lossBefore(), r.lossAfter(), r.steps(), r.details());
            }

        }
    }

    private static void write(Path file, DType dtype, long seed) throws IOException {
        ToyCheckpoints.write(file, dtype, seed, "a.weight", "norm.weight", "b.weight");
    }

    @Test
    void writesTheEncodedBytesAndMatchesTheCpuByteForByte() throws IOException {
        Path base = tmp.resolve("base.safetensors");
        List<Path> models = List.of(tmp.resolve("m1.safetensors"), tmp.resolve("m2.safetensors"));
        write(base, DType.BF16, 0);
        write(models.get(0), DType.BF16, 1);
        write(models.get(1), DType.BF16, 2);
        AdamConfig adam = AdamConfig.paper().withLr(1e-3f).withIterations(30);
        for (DType out : new DType[] {null, DType.F16, DType.F32}) {
            Path viaDevice = tmp.resolve("device-" + out + ".safetensors");
            Path viaCpu = tmp.resolve("cpu-" + out + ".safetensors");
            try (StandInDevice device = new StandInDevice(); Backend cpu = Backends.cpu(1)) {
                new Merger(MergeSpec.defaults(base, models, viaDevice).withAdam(adam).withOutDType(out), device, null).run();
                new Merger(MergeSpec.defaults(base, models, viaCpu).withAdam(adam).withOutDType(out), cpu, null).run();
                DType want = out == null ? DType.BF16 : out;
                assertEquals(List.of("merge-on-device a.weight " + want, "raw-out a.weight",
                        "merge-on-device b.weight " + want, "raw-out b.weight"), device.events);
            }
            assertArrayEquals(Files.readAllBytes(viaCpu), Files.readAllBytes(viaDevice), "output " + out);
        }
    }
}
