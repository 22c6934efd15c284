package dev.wudi.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSON report's options typed as their values are: numbers as given, flags as booleans, words as strings. */
class MergeReportTest {

    @TempDir
    Path tmp;

    @Test
    void optionsAreTypedAndTheSchemaSaysSo() throws Exception {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("lr", "1e-5");
        options.put("iters", "300");
        options.put("scale", "1.0");
        options.put("density", ".5");
        options.put("shard-size", "5GB");
        options.put("lr-auto", "auto:2");
        options.put("as-adapter", "true");
        options.put("include", "123");
        options.put("rest", "base");
        RunInfo run = new RunInfo("wudi", "1", "", List.of("m1", "m2"), options, "wudi merge ...", List.of("a"),
                List.of("n"), List.of());
        MergeReport r = new MergeReport("ties", "cpu", "out", List.of(), List.of(), 1, 2, run);
        Path file = tmp.resolve("r.json");
        r.write(file);
        JsonNode j = new ObjectMapper().readTree(file.toFile());
        assertEquals(MergeReport.SCHEMA, j.get("schema").asInt());
        JsonNode o = j.get("options");
        assertTrue(o.get("lr").isDouble() && o.get("lr").asDouble() == 1e-5, o.toString());
        assertTrue(Files.readString(file).contains("\"lr\" : 1.0E-5"), "the decimal given, not a widened float");
        assertTrue(o.get("iters").isIntegralNumber() && o.get("iters").asInt() == 300, o.toString());
        assertEquals(1.0, o.get("scale").asDouble(), 0);
        assertEquals(0.5, o.get("density").asDouble(), 0);
        assertTrue(o.get("shard-size").isTextual() && o.get("lr-auto").isTextual() && o.get("rest").isTextual());
        assertTrue(o.get("as-adapter").isBoolean() && o.get("as-adapter").asBoolean(), "a flag is a boolean");
        assertTrue(o.get("include").isTextual(), "a regex stays a string whatever it looks like");
        assertTrue(j.get("inputs").get("base").isNull(), "no base: null, not an empty path");
        assertEquals("a", j.get("actions").get(0).asText());
        assertEquals("n", j.get("notes").get(0).asText());
    }
}
