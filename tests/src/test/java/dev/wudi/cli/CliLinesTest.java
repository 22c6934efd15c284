package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the command line says and when: a misspelt option gets the nearest names, the "merging ..." line comes only
 * once every check has passed (never before a refusal), and under --progress json every line a person would read is
 * an event on stdout, none on stderr.
 */
class CliLinesTest {

    @TempDir
    Path tmp;

    private Path base;
    private Path a;
    private Path b;

    @BeforeEach
    void models() throws Exception {
        Path[] files = TinyModels.baseAndTwo(tmp);
        base = files[0];
        a = files[1];
        b = files[2];
    }

    private String[] merge(Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("merge", "--base", base.toString(), "--model", a.toString(),
                "--model", b.toString(), "--out", out.toString(), "--iters", "3"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void aMisspeltOptionGetsTheNearestNames() {
        Cli.Result r = InProcess.run(merge(tmp.resolve("o.safetensors"), "--desnity", "0.5"));
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("did you mean --density"), r.toString());
    }

    @Test
    void theMergingLineComesOnlyAfterTheChecks() throws Exception {
        Path out = tmp.resolve("o.safetensors");
        Cli.Result ok = InProcess.run(merge(out, "--device", "cpu"));
        assertEquals(0, ok.exit(), ok.toString());
        assertTrue(ok.err().contains("wudi: merging 2 models into " + out), ok.toString());
        Cli.Result refused = InProcess.run(merge(out, "--device", "cpu"));
        assertEquals(2, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("already exists"), refused.toString());
        assertFalse(refused.err().contains("merging"), "no banner before a refusal: " + refused);
        Cli.Result auto = InProcess.run("merge", "--model", a.toString(), "--model", b.toString(), "--out",
                tmp.resolve("n").toString(), "--as-adapter", "--device", "auto");
        assertEquals(2, auto.exit(), auto.toString());
        assertEquals(List.of("no base"), auto.err().lines().filter(l -> l.startsWith("wudi: "))
                .map(l -> l.contains("without --base") ? "no base" : l).toList(),
                "the refusal alone, no device line before it: " + auto);
    }

    @Test
    void underProgressJsonEveryLineIsAnEvent() throws Exception {
        Path cfg = Files.writeString(tmp.resolve("c.yml"), "merge_method: task_arithmetic\nbase_model: " + base
                + "\nmodels:\n  - model: " + a + "\n    parameters: {weight: 1.0}\n  - model: " + b
                + "\n    parameters: {weight: 1.0}\ndtype: float32\n");
        Cli.Result r = InProcess.run("merge", "--config", cfg.toString(), "--out", tmp.resolve("j.safetensors")
                .toString(), "--scale", "0.5", "--device", "auto", "--progress", "json");
        assertEquals(0, r.exit(), r.toString());
        assertFalse(r.err().contains("wudi:"), "nothing for a person on stderr: " + r);
        List<String> infos = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : r.out().strip().split("\n")) {
            JsonNode n = json.readTree(line);
            if (n.get("event").asText().equals("info")) {
                infos.add(n.get("message").asText());
            }
        }
        assertTrue(infos.stream().anyMatch(m -> m.startsWith("dtype float32")), "the config's note: " + infos);
        assertTrue(infos.stream().anyMatch(m -> m.contains("overriding")), "the override line: " + infos);
        assertTrue(infos.stream().anyMatch(m -> m.contains("running on CPU") || m.contains("GPU")),
                "the device's line (a machine without a GPU falls back): " + infos);
    }

    @Test
    void methodsSayWhichSettingIsRequired() {
        Cli.Result r = InProcess.run("methods");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("--t (required)") && !r.out().contains("NaN"), r.out());
    }
}
