package dev.wudi.merge;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportPageTest {

    @Test
    void pageHasEveryTensorItsLossesAndTimesAndNoScripts(@TempDir Path tmp) throws IOException {
        List<TensorRecord> ts = List.of(
                new TensorRecord("layers.0.attn.in_proj.weight", "wudi", new long[] {192, 64}, "F32", 12.5, 0.75, 0.41,
                        Map.of("lr", 1e-5)),
                new TensorRecord("layers.0.mlp.fc<1>.weight", "wudi", new long[] {256, 64}, "BF16", 3.0e-3, 2.0e-4, 0.2,
                        Map.of("filter_param", 20.0, "rank_used", 64.0)),
                new TensorRecord("layers.0.norm.bias", "base", new long[] {64}, "F32", Double.NaN, Double.NaN, 0.001));
        MergeReport r = new MergeReport("wudi", "cpu", "out.safetensors", ts, List.of("a warning"), 0.7, 1234);
        Path file = tmp.resolve("sub/report.html");
        ReportPage.write(r, file);
        String html = Files.readString(file);
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        assertTrue(html.contains("layers.0.attn.in_proj.weight"));
        assertTrue(html.contains("layers.0.mlp.fc&lt;1&gt;.weight"), "names are escaped");
        assertTrue(html.contains("layers.0.norm.bias"));
        assertTrue(html.contains(">12.5<") && html.contains(">0.75<") && html.contains("94.0%"), "losses and reduction");
        assertTrue(html.contains(">0.0002<"), "losses as every report writes them (Figures)");
        assertTrue(html.contains("0.410") && html.contains("class=\"bar time\" style=\"width:100.0%\""), "longest time is full width");
        assertTrue(html.contains("lr 1.00e-05<") && html.contains("filter parameter 20.0; rank used 64"),
                "solver details in words");
        assertFalse(html.contains("--lr auto"), "a fixed lr is not labelled as chosen by --lr auto");
        assertTrue(html.contains("a warning"));
        assertFalse(html.contains("src=") || html.contains("http"), "self-contained: no links, no external scripts");
        assertTrue(html.contains("id=\"filter\"") && html.contains("<script>"), "an inline filter and sort for the table");
        assertTrue(html.trim().endsWith("</html>"));
    }
}
