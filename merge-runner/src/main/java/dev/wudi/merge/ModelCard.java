package dev.wudi.merge;

import dev.wudi.spec.CardPolicy;
import dev.wudi.spec.MergeSpec;
import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.checkpoint.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The README.md model card of a merged folder, in the shape the Hugging Face hub reads: YAML front matter
 * (base_model, library_name: transformers, the base's licence where its card gives one, tags [merge, wudi]), then
 * what was merged, how (the method as applied, with a link to the paper, and every setting), what was done to each
 * kind of tensor, the notes and warnings, the command that reproduces it and, where the base has a card of its own,
 * that card quoted under its own heading. Everything it says about the merge it takes from the report's record, as
 * the JSON report, the HTML page and the summary do.
 */
final class ModelCard {

    static final String PAPER = "https://arxiv.org/abs/2503.08099";

    /** The heading the base's own card is quoted under (and its anchor on the hub). */
    static final String BASE_CARD_HEADING = "The base model's card";
    private static final String BASE_CARD_ANCHOR = "#the-base-models-card";

    private ModelCard() {
    }

    /** @param baseCard the base's own card (its licence carried; quoted at the end under --card auto), or null */
    static String render(MergeSpec o, MergePlan plan, MergeReport report, Checkpoint base, List<Checkpoint> models,
                         BaseCard baseCard) {
        RunInfo run = report.run();
        boolean noBase = o.baseStandsIn();
        // --card write: this card alone; the base's licence still holds for the merged weights
        boolean quote = baseCard != null && !baseCard.body().isEmpty() && o.card() == CardPolicy.AUTO;
        StringBuilder s = new StringBuilder();
        s.append("---\n");
        if (noBase) {
            // no base: the merge descends from every model (the hub reads a list of bases as a merge of them)
            s.append("base_model:\n");
            java.util.Set<String> ids = new java.util.LinkedHashSet<>();
            for (int i = 0; i < models.size(); i++) {
                ids.add(baseModelId(plan.modelConfigs().get(i).json(), models.get(i).path()));
            }
            ids.forEach(id -> s.append("- ").append(yaml(id)).append('\n'));
        } else {
            s.append("base_model: ").append(yaml(baseModelId(plan.baseConfig().json(), base.path()))).append('\n');
        }
        s.append("library_name: transformers\n");
        if (baseCard != null) {
            baseCard.license().forEach((k, v) -> s.append(k).append(": ").append(yaml(v)).append('\n'));
        }
        s.append("tags:\n- merge\n- wudi\n");
        s.append("---\n\n");
        Path out = o.out().getFileName();
        s.append("# ").append(out == null ? "merged model" : out.toString()).append("\n\n");
        s.append("This model merges ").append(models.size()).append(noBase ? " model" : " fine-tune")
                .append(models.size() == 1 ? "" : "s").append(noBase ? " without a base" : " of one base")
                .append(" into one checkpoint with `wudi` ").append(run.version()).append(", ");
        if (o.method() == dev.wudi.method.MergeMethods.WUDI) {
            s.append("using WUDI-Merging (Cheng et al., *Whoever Started the Interference Should End It: Guiding"
                    + " Data-Free Model Merging via Task Vectors*, ICML 2025, [arXiv:2503.08099](").append(PAPER)
                    .append(")): for every linear weight, the merged task vector minimises the data-free interference"
                    + " loss sum_i ||(tau_m - tau_i) tau_i^T||_F^2 / ||tau_i||_F^2 of the task vectors tau_i = W_i - W_0")
                    .append(o.scaleAuto() ? "; this merge then writes a part of it, or a part of the models' average,"
                            + " per weight (the coverage rule: the notes below say which)"
                            : o.effectiveScale() != 1.0 ? "; this merge writes W_0 + " + o.effectiveScale() + " tau_m" : "")
                    .append(".\n\n");
        } else {
            s.append("using ").append(o.method().name()).append(" (").append(o.method().reference()).append(").\n\n");
        }
        if (quote) {
            s.append("The base model's own card is quoted at the end, under [").append(BASE_CARD_HEADING).append("](")
                    .append(BASE_CARD_ANCHOR).append(")").append(baseCard.license().isEmpty() ? ""
                    : "; its licence is this card's").append(".\n\n");
        } else if (baseCard != null && !baseCard.license().isEmpty()) {
            s.append("The licence is the base model's, as its card gives it.\n\n");
        }
        s.append("## Models merged\n\n");
        if (noBase) {
            s.append("- base: none (model 1 gives the tensor names and layout)\n");
        } else {
            s.append("- base: `").append(base.path()).append("`").append(architecture(plan.baseConfig().json()))
                    .append('\n');
        }
        for (int i = 0; i < models.size(); i++) {
            s.append("- model ").append(i + 1).append(": `").append(models.get(i).path()).append("`")
                    .append(architecture(plan.modelConfigs().get(i).json())).append('\n');
        }
        s.append("\n## Method\n\n");
        s.append("| setting | value |\n|---|---|\n");
        // the method row is the method as applied (its settings, a config's per-model values); the rest as given
        run.options().forEach((k, v) -> s.append("| ").append(cell(k)).append(" | ")
                .append(cell(k.equals("method") ? report.method() : v)).append(" |\n"));
        s.append("\n## What was done to each tensor\n\n");
        run.actions().forEach(line -> s.append("- ").append(line).append('\n'));
        if (report.scoredCount() > 0) {
            s.append("- interference loss summed over the ").append(report.scoredCount()).append(' ')
                    .append(report.lossScope()).append(": ").append(Figures.of(report.totalLossBefore()))
                    .append(" before, ").append(Figures.of(report.totalLossAfter())).append(" after\n");
        }
        if (!run.notes().isEmpty()) {
            s.append("\n## Notes\n\n");
            run.notes().forEach(n -> s.append("- ").append(n).append('\n'));
        }
        if (!report.warnings().isEmpty()) {
            s.append("\n## Warnings\n\n");
            report.warnings().forEach(w -> s.append("- ").append(w).append('\n'));
        }
        s.append("\n## Reproduce\n\n```sh\n").append(run.command()).append("\n```\n");
        if (o.config() != null && o.config().normalizedYaml() != null) {
            s.append("\n## Configuration\n\nThe merge config as run (`").append(OutputFiles.CONFIG_FILE)
                    .append("`, every default written out):\n\n```yaml\n").append(o.config().normalizedYaml().stripTrailing())
                    .append("\n```\n");
        }
        if (quote) {
            s.append("\n## ").append(BASE_CARD_HEADING).append("\n\nThe card that came with the base (`")
                    .append(baseCard.file()).append("`), quoted as it is, without its front matter:\n\n");
            baseCard.body().lines().forEach(l -> s.append(l.isEmpty() ? ">" : "> " + l).append('\n'));
        }
        return s.toString();
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
