package dev.wudi.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.cpu.CpuBackend;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QualityBenchTest {

    /** The synthetic bench: a row per method and solver, the paper's Adam beaten by the spectral solver, a PNG. */
    @Test
    void syntheticBenchScoresEveryMethodAndDrawsAPng(@TempDir Path tmp) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Path png = tmp.resolve("chart.png");
        try (Backend b = new CpuBackend(2); PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            QualityBench.run(out, null, png, b, new double[] {1});
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        for (QualityBench.Method m : QualityBench.methods()) {
            assertTrue(text.contains("| " + m.label() + " |"), "row for " + m.label() + "\n" + text);
        }
        assertTrue(text.contains("| pretrained (no merge) |"));
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head, "PNG signature");
        assertTrue(Files.size(png) > 10_000, "a chart, not an empty image");
        double paper = meanOf(text, "wudi adam lr 1e-5 (paper)");
        double spectral = meanOf(text, "wudi spectral (default: flow)");
        double pretrained = meanOf(text, "pretrained (no merge)");
        double byDefault = meanOf(text, "wudi default merge");
        double average = meanOf(text, "average");
        assertTrue(spectral < paper && paper < pretrained, "interference: spectral " + spectral + ", paper Adam "
                + paper + ", pretrained " + pretrained);
        // the default merge (half the spectral solution here) is its own row, between the unscaled solution and
        // averaging; the paper's row is Adam's, not the default's
        assertTrue(spectral < byDefault && byDefault < average, "interference: spectral " + spectral
                + ", default merge " + byDefault + ", average " + average);
        assertNotEquals(byDefault, paper, "the paper's row must run Adam, not the default merge");
    }

    private static double meanOf(String table, String label) {
        for (String line : table.split("\n")) {
            if (line.startsWith("| " + label + " |")) {
                int a = line.indexOf("**");
                return Double.parseDouble(line.substring(a + 2, line.indexOf("**", a + 2)));
            }
        }
        throw new AssertionError("no row " + label);
    }
}
