package dev.wudi.merge;

import dev.wudi.checkpoint.Version;
import dev.wudi.method.CoverageRule;
import dev.wudi.method.HarmSignals;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.ReproduceCommand;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A merge's report, made once from its session, its rules and its records: what produced it (tool, version, inputs,
 * every setting that decides the output, the command), what was done to each kind of tensor, the notes (the plan's,
 * and the tensors --rest base kept although the fine-tunes changed them), the records, and the warnings. The JSON
 * report, the HTML page, the model card and the summary are all written from it; the lines found only now (the kept
 * tensors, models with zero task vectors) are said to the listener in the report's words.
 */
final class Reports {

    private Reports() {
    }

    /**
     * The report of a merge whose tensors are all computed.
     *
     * @param notes more lines of what was done (an adapter's), after the plan's
     */
    static MergeReport of(MergeSession session, TensorRules rules, List<TensorRecord> records,
                          List<String> inputWarnings, long start, long outputBytes, List<String> notes) {
        List<String> allNotes = new ArrayList<>(notes);
        Optional<String> kept = keptNote(session.keptChanged());
        kept.ifPresent(allNotes::add);
        kept.ifPresent(session.listener()::info);
        Optional<String> coverage = coverageNote(records);
        coverage.ifPresent(allNotes::add);
        coverage.ifPresent(session.listener()::info);
        List<String> warnings = withZeroNote(inputWarnings, records);
        harmWarning(records).ifPresent(warnings::add);
        warnings.subList(inputWarnings.size(), warnings.size()).forEach(session.listener()::warning);
        return new MergeReport(TensorRules.describe(session.spec()), rules.device(), session.spec().out().toString(),
                records, warnings, (System.nanoTime() - start) / 1e9, outputBytes, runInfo(session, rules, allNotes));
    }

    static MergeReport of(MergeSession session, TensorRules rules, List<TensorRecord> records,
                          List<String> inputWarnings, long start, long outputBytes) {
        return of(session, rules, records, inputWarnings, start, outputBytes, List.of());
    }

    private static RunInfo runInfo(MergeSession session, TensorRules rules, List<String> notes) {
        List<String> modelPaths = new ArrayList<>();
        session.spec().models().forEach(p -> modelPaths.add(p.toString()));
        MergePlan plan = session.plan();
        List<String> extras = new ArrayList<>();
        for (MergePlan.Extra x : plan.extras()) {
            extras.add("model " + (x.model() + 1) + ": " + x.name() + " " + x.ref().info().shapeString() + ": "
                    + x.fate());
        }
        List<String> allNotes = new ArrayList<>(plan.notes());
        allNotes.addAll(notes);
        MergeSpec spec = session.spec();
        return new RunInfo("wudi", Version.get(), spec.base() == null || spec.baseStandsIn() ? ""
                : spec.base().toString(), modelPaths, settings(session, rules), spec.command() != null
                ? spec.command() : ReproduceCommand.of(spec), ActionSummary.of(plan, spec.method() == MergeMethods.WUDI),
                allNotes, extras);
    }

    /**
     * Every option that decides the output as given or by default, as the reports and the model card list them (the
     * heads policy as the plan resolved it, and the device the method ran on). A method setting a config gives for
     * every model and tensor (ties' density per model) is left out: it applies nowhere, and the method's description
     * names the values that do.
     */
    static Map<String, String> settings(MergeSession session, TensorRules rules) {
        Map<String, String> m = new LinkedHashMap<>();
        MergeSpec spec = session.spec();
        spec.settings(MergeOption.Effect.OUTPUT).forEach((o, v) -> {
            String name = o.name().substring(2);
            boolean methodSetting = o == OptionTable.SCALE || o == OptionTable.DENSITY || o == OptionTable.T;
            if (!(methodSetting && spec.parameters().givesEverywhere(MergeMethod.configName(name)))) {
                m.put(name, o == OptionTable.HEADS ? session.plan().heads().cliName() : v);
            }
        });
        m.put("device", rules.backendName());
        return m;
    }

    /** The same report, its seconds counted to now (once the output is in place). */
    static MergeReport timed(MergeReport r, long start) {
        return new MergeReport(r.method(), r.device(), r.out(), r.tensors(), r.warnings(),
                (System.nanoTime() - start) / 1e9, r.outputBytes(), r.run());
    }

    /**
     * The note (an info, not a warning: the default is deliberate) about tensors that kept the base although the
     * fine-tunes changed them (embeddings, norms, biases under --rest base), with how to merge them.
     */
    private static Optional<String> keptNote(List<String> keptChanged) {
        if (keptChanged.isEmpty()) {
            return Optional.empty();
        }
        int n = keptChanged.size();
        String them = n == 1 ? "it" : "them";
        return Optional.of(n + " tensor" + (n == 1 ? "" : "s") + " kept the base although the fine-tunes changed "
                + them + " (" + ActionSummary.some(keptChanged) + ") under --rest base: --rest average or --rest"
                + " task-arithmetic merges " + them + ", --include REGEX gives " + them + " to the method");
    }

    /**
     * What --scale auto did (CoverageRule): how many matrices took WUDI's solution scaled, how many a fraction of the
     * models' average, with the range of coverage of each (the per-tensor values are in the records' "coverage",
     * "coefficient" and "average_fraction").
     */
    static Optional<String> coverageNote(List<TensorRecord> records) {
        List<Double> scaled = new ArrayList<>();
        List<Double> averaged = new ArrayList<>();
        for (TensorRecord r : records) {
            Double c = r.details().get("coefficient");
            Double cov = r.details().get("coverage");
            if (c != null && cov != null) {
                (c == 0 ? averaged : scaled).add(cov);
            }
        }
        if (scaled.isEmpty() && averaged.isEmpty()) {
            return Optional.empty();
        }
        List<String> parts = new ArrayList<>();
        if (!scaled.isEmpty()) {
            parts.add(count(scaled.size()) + " took " + CoverageRule.SCALE + " x tau_m (their task vectors"
                    + " span " + range(scaled) + " of the input space)");
        }
        if (!averaged.isEmpty()) {
            parts.add(count(averaged.size()) + " took " + CoverageRule.AVERAGE_FRACTION + " x the models' average"
                    + " (their task vectors span only " + range(averaged) + " of the input space, under "
                    + CoverageRule.MIN_COVERAGE + ": there WUDI's solution is about their sum, no evidence against"
                    + " averaging; three quarters of it, as the adapters measured went past their held-out optimum)");
        }
        return Optional.of("scale auto: " + String.join("; ", parts));
    }

    /**
     * One line for the tensors whose merge is likely worse than averaging (HarmSignals), by cause, with what to do; the
     * tensors' records hold "likely_hurts" and the value that decided it.
     */
    static Optional<String> harmWarning(List<TensorRecord> records) {
        List<Double> nearSum = new ArrayList<>();
        List<Double> sliver = new ArrayList<>();
        for (TensorRecord r : records) {
            if (r.details().get(HarmSignals.LIKELY_HURTS) == null) {
                continue;
            }
            Double d = r.details().get(HarmSignals.DISTANCE_FROM_SUM);
            if (d != null) {
                nearSum.add(d);
            } else {
                sliver.add(r.details().getOrDefault("coverage", 0.0));
            }
        }
        List<String> parts = new ArrayList<>();
        if (!nearSum.isEmpty()) {
            parts.add(count(nearSum.size()) + ": Adam ended near its start, the sum of the task vectors (distance "
                    + range(nearSum) + " of its length: a step moves an element by about lr, too little for these task"
                    + " vectors; --lr auto scales lr to them, the default merge (no solver option) halves a solved"
                    + " tau_m)");
        }
        if (!sliver.isEmpty()) {
            parts.add(count(sliver.size()) + ": the task vectors span only " + range(sliver) + " of the input"
                    + " space, where WUDI's solution is about their sum (LoRA adapters; the default merge, no solver"
                    + " option, takes " + CoverageRule.AVERAGE_FRACTION + " x their average there)");
        }
        if (parts.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of("likely worse than averaging the models (data-free signs, docs/quality.md): "
                + String.join("; ", parts));
    }

    private static String count(int n) {
        return n + " tensor" + (n == 1 ? "" : "s");
    }

    private static String range(List<Double> xs) {
        double lo = xs.stream().mapToDouble(Double::doubleValue).min().orElse(0);
        double hi = xs.stream().mapToDouble(Double::doubleValue).max().orElse(0);
        return lo == hi ? String.format(Locale.ROOT, "%.2f", lo)
                : String.format(Locale.ROOT, "%.2f-%.2f", lo, hi);
    }

    /** The warnings with one more naming the models whose task vector was zero somewhere (left out of those losses). */
    private static List<String> withZeroNote(List<String> warnings, List<TensorRecord> records) {
        Map<Integer, Integer> tensorsPerModel = new TreeMap<>();
        for (TensorRecord r : records) {
            r.zeroTaskVectors().forEach(k -> tensorsPerModel.merge(k, 1, Integer::sum));
        }
        List<String> out = new ArrayList<>(warnings);
        if (tensorsPerModel.isEmpty()) {
            return out;
        }
        List<String> parts = new ArrayList<>();
        tensorsPerModel.forEach((k, n) -> parts.add("model " + k + " in " + n + " tensor" + (n == 1 ? "" : "s")));
        out.add("zero task vectors (the fine-tune left these weights exactly as the base): " + String.join(", ", parts)
                + "; each such model is left out of that tensor's WUDI loss (its weight 1/||tau||^2 would be infinite);"
                + " the report names them per tensor");
        return out;
    }
}
