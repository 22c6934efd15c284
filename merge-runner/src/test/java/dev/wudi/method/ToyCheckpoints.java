package dev.wudi.method;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Tiny checkpoints for merge-loop tests: [12, 9] weights, and [12] for names starting with "norm". */
final class ToyCheckpoints {

    private ToyCheckpoints() {
    }

    /** seed 0 writes the base; any other seed the base plus a task vector of about 1e-2. */
    static void write(Path file, DType dtype, long seed, String... names) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (String n : names) {
            specs.add(new TensorSpec(n, dtype, n.startsWith("norm") ? new long[] {12} : new long[] {12, 9}));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of())) {
            for (TensorSpec s : specs) {
                int count = (int) (s.byteSize() / dtype.bytes());
                Random base = new Random(s.name().hashCode());
                Random task = new Random(seed * 7 + s.name().hashCode());
                float[] v = new float[count];
                for (int j = 0; j < count; j++) {
                    v[j] = (float) (base.nextGaussian() * 0.1 + (seed == 0 ? 0 : task.nextGaussian() * 0.01));
                }
                w.writeFloats(v, 0, count);
            }
            w.finish();
        }
    }
}
