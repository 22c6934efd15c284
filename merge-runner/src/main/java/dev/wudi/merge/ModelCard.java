package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.model.TensorRole;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The README.md model card of a merged folder, in the shape the Hugging Face hub reads: YAML front matter
 * (base_model, library_name: transformers, tags [merge, wudi]), then what was merged, how (the method with a link
 * to the paper, the solver and its settings), what happened to each kind of tensor, and the command that
 * reproduces it.
 */
final class ModelCard {

    static final String PAPER = "https://arxiv.org/abs/2503.08099";

    private ModelCard() {
    }

    static String render(MergeSpec o, MergePlan plan, MergeReport report, Checkpoint base, List<Checkpoint> models) {
        StringBuilder s = new StringBuilder();
        s.append("---\n");
        s.append("base_model: ").append(yaml(baseModelId(plan.baseConfig().json(), base.path()))).append('\n');
        s.append("library_name: transformers\n");
        s.append("tags:\n- merge\n- wudi\n");
        s.append("---\n\n");
        Path out = o.out().getFileName();
        s.append("# ").append(out == null ? "merged model" : out.toString()).append("\n\n");
        s.append("This model merges ").append(models.size()).append(" fine-tune").append(models.size() == 1 ? "" : "s")
                .append(" of one base into one checkpoint with `wudi` ").append(report.run().version()).append(", ");
        if (o.method() == dev.wudi.method.MergeMethods.WUDI) {
            s.append("using WUDI-Merging (Cheng et al., *Whoever Started the Interference Should End It: Guiding"
                    + " Data-Free Model Merging via Task Vectors*, ICML 2025, [arXiv:2503.08099](").append(PAPER)
                    .append(")): for every linear weight, the merged task vector minimises the data-free interference"
                    + " loss sum_i ||(tau_m - tau_i) tau_i^T||_F^2 / ||tau_i||_F^2 of the task vectors tau_i = W_i - W_0.\n\n");
        } else {
            s.append("using ").append(report.method()).append(".\n\n");
        }
        s.append("## Models merged\n\n");
        s.append("- base: `").append(base.path()).append("`").append(architecture(plan.baseConfig().json())).append('\n');
        for (int i = 0; i < models.size(); i++) {
            s.append("- model ").append(i + 1).append(": `").append(models.get(i).path()).append("`")
                    .append(architecture(plan.modelConfigs().get(i).json())).append('\n');
        }
        s.append("\n## Method\n\n");
        s.append("| setting | value |\n|---|---|\n");
        s.append("| method and solver | ").append(cell(report.method())).append(" |\n");
        report.run().options().forEach((k, v) -> s.append("| ").append(cell(k)).append(" | ").append(cell(v)).append(" |\n"));
        s.append("\n## What was done to each tensor\n\n");
        summary(plan).forEach(line -> s.append("- ").append(line).append('\n'));
        plan.notes().forEach(n -> s.append("- ").append(n).append('\n'));
        report.warnings().forEach(w -> s.append("- ").append(w).append('\n'));
        if (report.scoredCount() > 0) {
            s.append(String.format(java.util.Locale.ROOT, "- interference loss summed over the %d %s:"
                    + " %.6g before, %.6g after%n", report.scoredCount(), report.lossScope(), report.totalLossBefore(),
                    report.totalLossAfter()));
        }
        s.append("\n## Reproduce\n\n```sh\n").append(report.run().command()).append("\n```\n");
        if (o.config() != null && o.config().normalizedYaml() != null) {
            s.append("\n## Configuration\n\nThe merge config as run (`").append(OutputFiles.CONFIG_FILE)
                    .append("`, every default written out):\n\n```yaml\n").append(o.config().normalizedYaml().stripTrailing())
                    .append("\n```\n");
        }
        return s.toString();
    }

    /** Counts per action, role and layout: "12 linear weights optimised by wudi (adam), 4 of them stored [in, out]". */
    static List<String> summary(MergePlan plan) {
        Map<String, int[]> counts = new LinkedHashMap<>();
        for (MergePlan.Entry e : plan.entries()) {
            String key = e.label() + "|" + e.role().label();
            int[] c = counts.computeIfAbsent(key, k -> new int[3]);
            c[0]++;
            if (e.layout().transposed()) {
                c[1]++;
            }
            if (e.layout().stacked()) {
                c[2]++;
            }
        }
        List<String> out = new ArrayList<>();
        counts.forEach((key, c) -> {
            String[] p = key.split("\\|", 2);
            StringBuilder b = new StringBuilder();
            b.append(c[0]).append(' ').append(p[1]).append(c[0] == 1 ? " tensor: " : " tensors: ").append(p[0]);
            if (p[1].equals(TensorRole.LINEAR.label()) && c[1] > 0) {
                b.append(" (").append(c[1]).append(" stored [in, out] and optimised as the paper's [out, in])");
            }
            if (c[2] > 0) {
                b.append(" (").append(c[2]).append(" stacks of experts, each expert its own layer)");
            }
            out.add(b.toString());
        });
        return out;
    }

    /** The hub id of the base where config.json names one (_name_or_path "org/name"), else the folder's name. */
    static String baseModelId(JsonNode config, Path base) {
        String n = config.path("_name_or_path").asText("");
        if (n.matches("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?") && !n.isEmpty()) {
            return n;
        }
        Path f = base.toAbsolutePath().normalize().getFileName();
        return f == null ? "base" : f.toString();
    }

    private static String architecture(JsonNode config) {
        List<String> a = new ArrayList<>();
        config.path("architectures").forEach(x -> a.add(x.asText()));
        return a.isEmpty() ? "" : " (" + String.join(", ", a) + ")";
    }

    /** A YAML scalar, double-quoted where it is not plainly safe. */
    static String yaml(String v) {
        if (v.matches("[A-Za-z0-9][A-Za-z0-9._/-]*")) {
            return v;
        }
        return "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static String cell(String v) {
        return v.replace("|", "\\|").replace("\n", " ");
    }

}
