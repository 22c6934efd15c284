package dev.wudi.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.cli.Main;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adding a merge method is one new file and one registry line: {@link MedianMethod} is registered by one line in
 * this module's META-INF/services/dev.wudi.method.MergeMethod, and from there it is a method like the others on the
 * command line, in `wudi methods`, in a mergekit config, in the option checks and in the report.
 */
class AddedMethodTest {

    @TempDir
    Path tmp;

    @Test
    void aMethodInOneFileIsUsableEverywhere() throws Exception {
        assertEquals("median", MergeMethods.byName("median").name());
        assertTrue(MergeMethods.names().endsWith("model-stock, median"), MergeMethods.names());
        Path base = tmp.resolve("base.safetensors");
        HubFolder.writeSafetensors(base, Map.of("w", new Tensor(new float[] {0, 0, 0}, new long[] {3})), DType.F32,
                Map.of());
        float[][] models = {{1, 5, -2}, {3, 4, 7}, {2, -1, 0}};
        String[] paths = new String[models.length];
        for (int k = 0; k < models.length; k++) {
            Path p = tmp.resolve("m" + k + ".safetensors");
            HubFolder.writeSafetensors(p, Map.of("w", new Tensor(models[k], new long[] {3})), DType.F32, Map.of());
            paths[k] = p.toString();
        }
        Path out = tmp.resolve("median.safetensors");
        assertEquals(0, Main.execute("merge", "-q", "--method", "median", "--base", base.toString(), "--model",
                paths[0], "--model", paths[1], "--model", paths[2], "--out", out.toString()));
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            float[] w = new float[3];
            f.readFloats(f.tensor("w"), 0, w, 0, 3);
            assertEquals(2f, w[0]);
            assertEquals(4f, w[1]);
            assertEquals(0f, w[2]);
        }
        Path cfg = Files.writeString(tmp.resolve("median.yml"), "merge_method: median\nbase_model: " + base
                + "\nmodels:\n  - model: " + paths[0] + "\n  - model: " + paths[1] + "\n  - model: " + paths[2] + "\n");
        assertEquals(0, Main.execute("mergekit-yaml", "-q", cfg.toString(), tmp.resolve("from-config").toString()));
        assertEquals(2, Main.execute("merge", "-q", "--method", "median", "--density", "0.5", "--base",
                base.toString(), "--model", paths[0], "--model", paths[1], "--out", tmp.resolve("x").toString()),
                "--density does not apply to it");
    }
}
