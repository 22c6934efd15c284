package dev.wudi.checkpoint;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Synthetic checkpoints for tests that merge whole files: model 0 is the base, and model m > 0 a fine-tune of it. Each
 * tensor holds the base's values (uniform in [-0.1, 0.1), seeded by the tensor's index) plus, for a fine-tune, a task
 * change ten times smaller (seeded by m and the tensor's index), all float32. Shared with merge-spark's tests through
 * this module's test jar.
 */
public final class TaskCheckpoints {

    private TaskCheckpoints() {
    }

    /**
     * The base and three fine-tunes (m = 0..3) in {@code dir}, each twice: as one file {@code mM.safetensors} and as a
     * folder {@code fM/} (model.safetensors and a config.json), so that tests can merge single files and folders.
     */
    public static void writeFilesAndFolders(Path dir, String[] names, long[][] shapes, long seedStride)
            throws IOException {
        for (int m = 0; m <= 3; m++) {
            Path folder = java.nio.file.Files.createDirectories(dir.resolve("f" + m));
            write(dir.resolve("m" + m + ".safetensors"), names, shapes, m, seedStride);
            write(folder.resolve("model.safetensors"), names, shapes, m, seedStride);
            java.nio.file.Files.writeString(folder.resolve("config.json"), "{\"model_type\": \"toy\"}");
        }
    }

    /**
     * Writes model {@code m} to {@code file}, tensors in the given order.
     *
     * @param seedStride the task seed of tensor t is seedStride * m + t (tests that compare files keep theirs)
     */
    public static void write(Path file, String[] names, long[][] shapes, int m, long seedStride) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (int t = 0; t < names.length; t++) {
            specs.add(new TensorSpec(names[t], DType.F32, shapes[t]));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of())) {
            for (int t = 0; t < names.length; t++) {
                int n = (int) (specs.get(t).byteSize() / 4);
                SplittableRandom base = new SplittableRandom(t);
                SplittableRandom task = new SplittableRandom(seedStride * m + t);
                float[] v = new float[n];
                for (int j = 0; j < n; j++) {
                    v[j] = (float) ((base.nextDouble() - 0.5) * 0.2 + (m == 0 ? 0 : (task.nextDouble() - 0.5) * 0.02));
                }
                w.writeFloats(v, 0, n);
            }
            w.finish();
        }
    }
}
