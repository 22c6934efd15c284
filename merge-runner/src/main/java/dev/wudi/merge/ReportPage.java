package dev.wudi.merge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;

/**
 * The merge report rendered as one self-contained HTML page (no scripts, no external files): for every
 * tensor the interference loss before and after as two bars on a shared logarithmic axis, the reduction,
 * what the solver decided (the lr, and why under --lr auto; the filter parameter of a spectral solver) and the seconds
 * it took as a bar, so a user sees at a glance where the interference was and where the time went; above the table
 * what produced the merge and what was done to each kind of tensor, below it the notes and warnings, all from the
 * report's record as the JSON report, the model card and the summary say them.
 */
public final class ReportPage {

    private ReportPage() {
    }

    /** Writes the page atomically (temporary file, then rename). */
    public static void write(MergeReport r, Path file) throws IOException {
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp");
        Files.writeString(tmp, render(r));
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    public static String render(MergeReport r) {
        List<TensorRecord> ts = r.tensors();
        double maxLoss = 0;
        double minLoss = Double.POSITIVE_INFINITY;
        double maxSeconds = 0;
        for (TensorRecord t : ts) {
            for (double v : new double[] {t.lossBefore(), t.lossAfter()}) {
                if (v > 0 && Double.isFinite(v)) {
                    maxLoss = Math.max(maxLoss, v);
                    minLoss = Math.min(minLoss, v);
                }
            }
            maxSeconds = Math.max(maxSeconds, t.seconds());
        }
        // log axis over the losses present: the decades from the smallest to the largest
        double hiLog = maxLoss > 0 ? Math.ceil(Math.log10(maxLoss)) : 0;
        double loLog = maxLoss > 0 ? Math.floor(Math.log10(minLoss)) : -1;
        if (hiLog - loLog < 1) {
            loLog = hiLog - 1;
        }
        StringBuilder h = new StringBuilder(16384);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>wudi merge report: ")
                .append(esc(r.out())).append("</title>\n<style>\n")
                .append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}\n")
                .append("table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;")
                .append("vertical-align:middle}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}\n")
                .append(".bars{width:320px}.bar{height:8px;margin:2px 0}.before{background:#d9534f}.after{background:#5cb85c}")
                .append(".time{background:#5b8dd9;height:10px}\n.legend span{display:inline-block;width:12px;height:8px;margin:0 4px 0 12px}\n")
                .append("</style></head><body>\n");
        h.append("<h1>wudi merge report</h1>\n<p>")
                .append("output <code>").append(esc(r.out())).append("</code> &middot; method <b>").append(esc(r.method()))
                .append("</b> &middot; device ").append(esc(r.device())).append(" &middot; ")
                .append(ts.size()).append(" tensors, ").append(r.optimisedCount()).append(" optimised &middot; ")
                .append(fmt("%.2f", r.seconds())).append(" s in all &middot; ").append(esc(r.run().tool())).append(' ')
                .append(esc(r.run().version())).append("</p>\n");
        if (r.run().known()) {
            h.append("<p>base ").append(r.run().base().isEmpty() ? "none" : "<code>" + esc(r.run().base()) + "</code>");
            for (int i = 0; i < r.run().models().size(); i++) {
                h.append(" &middot; model ").append(i + 1).append(" <code>").append(esc(r.run().models().get(i)))
                        .append("</code>");
            }
            h.append("</p>\n<p>options:");
            r.run().options().forEach((k, v) -> h.append(" <code>").append(esc(k)).append('=').append(esc(v))
                    .append("</code>"));
            h.append("</p>\n<p>command: <code>").append(esc(r.run().command())).append("</code></p>\n");
        }
        if (!r.run().actions().isEmpty()) {
            h.append("<h2>What was done to each tensor</h2>\n<ul>\n");
            r.run().actions().forEach(a -> h.append("<li>").append(esc(a)).append("</li>\n"));
            h.append("</ul>\n");
        }
        if (r.scoredCount() > 0) {
            h.append("<p>Interference loss summed over ").append(esc(r.lossScope())).append(": <b>")
                    .append(Figures.of(r.totalLossBefore()))
                    .append("</b> before, <b>").append(Figures.of(r.totalLossAfter())).append("</b> after (")
                    .append(fmt("%.1f", 100 * (1 - r.totalLossAfter() / r.totalLossBefore())))
                    .append("% less).</p>\n");
        }
        h.append("<p class=\"legend\">Loss bars on a log axis from 1e").append((int) loLog).append(" to 1e")
                .append((int) hiLog).append(":<span class=\"before\"></span>before<span class=\"after\"></span>after")
                .append("<span class=\"time\"></span>seconds (linear, longest = full width)</p>\n");
        h.append("<p><input id=\"filter\" placeholder=\"filter tensors (name, role, rule)\" size=\"40\"> ")
                .append("<span class=\"legend\">click a column's header to sort by it</span></p>\n");
        h.append("<table id=\"tensors\">\n<tr><th>tensor</th><th>role</th><th>layout</th><th>shape</th><th>rule</th><th>solver</th>")
                .append("<th>models left out</th><th>loss before</th>")
                .append("<th>loss after</th><th>reduction</th><th class=\"bars\">loss</th><th>seconds</th>")
                .append("<th class=\"bars\">time</th></tr>\n");
        for (TensorRecord t : ts) {
            List<String> out = new java.util.ArrayList<>(t.leftOut());
            t.zeroTaskVectors().forEach(k -> out.add("model " + k + ": zero task vector"));
            h.append("<tr><td><code>").append(esc(t.name())).append("</code></td><td>").append(esc(t.role()))
                    .append("</td><td>").append(esc(t.layout())).append("</td><td>").append(shape(t.shape()))
                    .append("</td><td>").append(esc(t.method())).append("</td><td>").append(esc(SolverDetails.describe(t.details())))
                    .append("</td><td>").append(esc(String.join("; ", out))).append("</td>");
            if (Double.isNaN(t.lossBefore())) {
                h.append("<td class=\"num\">&ndash;</td><td class=\"num\">&ndash;</td><td class=\"num\">&ndash;</td><td></td>");
            } else {
                h.append("<td class=\"num\">").append(Figures.of(t.lossBefore())).append("</td><td class=\"num\">")
                        .append(Figures.of(t.lossAfter())).append("</td><td class=\"num\">")
                        .append(t.lossBefore() > 0 ? fmt("%.1f%%", 100 * (1 - t.lossAfter() / t.lossBefore())) : "&ndash;")
                        .append("</td><td class=\"bars\">")
                        .append(bar("before", logWidth(t.lossBefore(), loLog, hiLog)))
                        .append(bar("after", logWidth(t.lossAfter(), loLog, hiLog))).append("</td>");
            }
            h.append("<td class=\"num\">").append(fmt("%.3f", t.seconds())).append("</td><td class=\"bars\">")
                    .append(bar("time", maxSeconds > 0 ? 100 * t.seconds() / maxSeconds : 0)).append("</td></tr>\n");
        }
        h.append("</table>\n");
        if (!r.run().notes().isEmpty()) {
            h.append("<h2>Notes</h2>\n<ul>\n");
            r.run().notes().forEach(n -> h.append("<li>").append(esc(n)).append("</li>\n"));
            h.append("</ul>\n");
        }
        if (!r.warnings().isEmpty()) {
            h.append("<h2>Warnings</h2>\n<ul>\n");
            r.warnings().forEach(w -> h.append("<li>").append(esc(w)).append("</li>\n"));
            h.append("</ul>\n");
        }
        // filter rows by a substring of their text, and sort by a column (numbers as numbers): a 7B model has 200+ rows
        h.append("<script>\n"
                + "const t = document.getElementById('tensors');\n"
                + "document.getElementById('filter').addEventListener('input', e => {\n"
                + "  const q = e.target.value.toLowerCase();\n"
                + "  for (const r of Array.from(t.rows).slice(1)) r.style.display ="
                + " r.textContent.toLowerCase().includes(q) ? '' : 'none';\n"
                + "});\n"
                + "Array.from(t.rows[0].cells).forEach((th, c) => th.addEventListener('click', () => {\n"
                + "  const rows = Array.from(t.rows).slice(1);\n"
                + "  const key = r => { const s = r.cells[c].textContent; const n = parseFloat(s);"
                + " return isNaN(n) ? s : n; };\n"
                + "  const up = th.dataset.up !== '1'; th.dataset.up = up ? '1' : '0';\n"
                + "  rows.sort((a, b) => { const x = key(a), y = key(b);"
                + " return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); });\n"
                + "  rows.forEach(r => t.tBodies[0].appendChild(r));\n"
                + "}));\n"
                + "</script>\n");
        h.append("</body></html>\n");
        return h.toString();
    }

    private static double logWidth(double v, double loLog, double hiLog) {
        if (!(v > 0) || !Double.isFinite(v)) {
            return 0;
        }
        double w = (Math.log10(v) - loLog) / (hiLog - loLog);
        return 100 * Math.max(0.005, Math.min(1, w));
    }

    private static String bar(String cls, double percent) {
        return "<div class=\"bar " + cls + "\" style=\"width:" + fmt("%.1f", percent) + "%\"></div>";
    }

    private static String shape(long[] s) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < s.length; i++) {
            sb.append(i > 0 ? ", " : "").append(s[i]);
        }
        return sb.append(']').toString();
    }

    private static String fmt(String f, double v) {
        return String.format(Locale.ROOT, f, v);
    }

    static String esc(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<': sb.append("&lt;"); break;
                case '>': sb.append("&gt;"); break;
                case '&': sb.append("&amp;"); break;
                case '"': sb.append("&quot;"); break;
                case '\'': sb.append("&#39;"); break;
                default: sb.append(c);
            }
        }
        return sb.toString();
    }
}
