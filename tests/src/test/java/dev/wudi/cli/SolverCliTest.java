package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --solver, --lr auto and --report-html from the command line. */
class SolverCliTest {

    @TempDir
    Path tmp;

    private List<String> merge(String out, String... extra) throws Exception {
        Path base = tmp.resolve("base.safetensors");
        if (!Files.exists(base)) {
            TinyModels.writeFile(base, TinyModels.layout(), DType.F32, 1, 1);
            TinyModels.writeFile(tmp.resolve("a.safetensors"), TinyModels.layout(), DType.F32, 2, 1);
            TinyModels.writeFile(tmp.resolve("b.safetensors"), TinyModels.layout(), DType.F32, 3, 1);
        }
        List<String> args = new ArrayList<>(List.of("merge", "--base", base.toString(),
                "--model", tmp.resolve("a.safetensors").toString(), "--model", tmp.resolve("b.safetensors").toString(),
                "--out", tmp.resolve(out).toString(), "--quiet"));
        args.addAll(List.of(extra));
        return args;
    }

    @Test
    void spectralOutOfTheBoxWithJsonAndHtmlReports() throws Exception {
        Path json = tmp.resolve("r.json");
        Path html = tmp.resolve("r.html");
        Cli.Result r = Cli.run(merge("s.safetensors", "--solver", "spectral", "--report", json.toString(),
                "--report-html", html.toString()).toArray(String[]::new));
        assertEquals(0, r.exit(), r.toString());
        JsonNode rep = new ObjectMapper().readTree(json.toFile());
        int wudi = 0;
        for (JsonNode t : rep.get("tensors")) {
            if (t.get("method").asText().equals("wudi")) {
                wudi++;
                assertTrue(t.get("loss_after").asDouble() < t.get("loss_before").asDouble(), t.toString());
                assertTrue(t.get("solver").get("filter_param").asDouble() > 0, t.toString());
            }
        }
        assertEquals(4, wudi);
        String page = Files.readString(html);
        try (SafetensorsFile out = SafetensorsFile.open(tmp.resolve("s.safetensors"))) {
            for (TensorInfo t : out.tensors()) {
                assertTrue(page.contains(t.name()), "html lists " + t.name());
                float[] v = new float[(int) t.numel()];
                if (t.dtype() == DType.F32) {
                    out.readFloats(t, 0, v, 0, v.length);
                    for (float x : v) {
                        assertTrue(Float.isFinite(x), t.name());
                    }
                }
            }
        }
    }

    @Test
    void everySolverAndLrAutoRun() throws Exception {
        for (String[] opts : List.of(new String[] {"--solver", "exact", "--ridge", "0.01"},
                new String[] {"--solver", "flow", "--flow-time", "2"},
                new String[] {"--solver", "spectral", "--filter", "tikhonov", "--filter-param", "0.05", "--rank", "4"},
                new String[] {"--solver", "spectral", "--filter", "landweber"},
                new String[] {"--solver", "spectral", "--cutoff", "0.03"})) {
            // in-process (a child JVM per case would cost a second each)
            assertEquals(0, Main.execute(merge("m.safetensors", opts).toArray(String[]::new)), String.join(" ", opts));
            Files.delete(tmp.resolve("m.safetensors"));
        }
        Path json = tmp.resolve("auto.json");
        assertEquals(0, Main.execute(merge("auto.safetensors", "--lr", "auto", "--iters", "30", "--report",
                json.toString()).toArray(String[]::new)));
        for (JsonNode t : new ObjectMapper().readTree(json.toFile()).get("tensors")) {
            if (t.get("method").asText().equals("wudi")) {
                double lr = t.get("solver").get("lr").asDouble();
                double rms = t.get("solver").get("task_vector_rms").asDouble();
                assertEquals(0.01 * rms, lr, 1e-6 * lr, "lr = 0.01 x task-vector RMS: " + t);
            }
        }
    }

    @Test
    void badSolverOptionsAreUsageErrors() throws Exception {
        Cli.Result one = Cli.run(merge("x.safetensors", "--solver", "newton").toArray(String[]::new));
        assertEquals(2, one.exit(), one.toString());
        assertTrue(one.err().contains("adam, exact, flow, spectral") && !one.err().contains("\tat "), one.toString());
        for (String[] opts : List.of(new String[] {"--solver", "newton"}, new String[] {"--lr", "fast"},
                new String[] {"--solver", "exact", "--lr", "auto"}, new String[] {"--solver", "spectral", "--filter", "gaussian"},
                new String[] {"--solver", "flow", "--flow-time", "-1"},
                new String[] {"--solver", "spectral", "--cutoff", "0"}, new String[] {"--rank", "4"},
                new String[] {"--solver", "exact", "--flow-time", "1"})) {
            assertEquals(2, Main.execute(merge("x.safetensors", opts).toArray(String[]::new)), String.join(" ", opts));
            assertFalse(Files.exists(tmp.resolve("x.safetensors")));
        }
    }
}
