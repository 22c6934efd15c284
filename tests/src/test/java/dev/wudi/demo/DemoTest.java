package dev.wudi.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `wudi demo` shows what it claims: WUDI interferes least on every task of the synthetic set. */
class DemoTest {

    @TempDir
    Path dir;

    @Test
    void wudiWinsOnEveryTask() throws Exception {
        SyntheticTasks set = Demo.defaultTasks();
        for (int i = 0; i < set.tasks; i++) {
            double rms = set.taskVectorRms(i);
            assertTrue(rms > 3e-4 && rms < 1e-2, "task vector RMS " + rms + " is not CLIP-like");
        }
        Demo.Result r;
        try (Backend cpu = Backends.cpu(0)) {
            r = Demo.run(set, dir, cpu);
        }
        double[] wudi = r.errors().get("wudi");
        for (String other : new String[] {"pretrained", "task-arithmetic", "average", "ties"}) {
            double[] e = r.errors().get(other);
            for (int i = 0; i < wudi.length; i++) {
                assertTrue(wudi[i] < e[i] - 0.05, "task " + i + ": wudi " + wudi[i] + " vs " + other + " " + e[i]);
            }
        }
        assertEquals(1.0, r.mean("pretrained"), 1e-12, "the base is the yardstick");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Demo.print(r, new PrintStream(out, true, StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("Lowest mean interference: wudi."), text);
    }
}
