package dev.wudi.merge;

import dev.wudi.checkpoint.Version;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.ReproduceCommand;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A merge's report, made once from its session, its rules and its records: what produced it (tool, version, inputs,
 * every setting that decides the output, the command), the records, and the warnings, with the summary's closing
 * lines said to the listener (tensors --rest base kept although changed, models with zero task vectors).
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
        keptNote(session.keptChanged()).ifPresent(session.listener()::info);
        List<String> warnings = withZeroNote(inputWarnings, records);
        warnings.subList(inputWarnings.size(), warnings.size()).forEach(session.listener()::warning);
        return new MergeReport(TensorRules.describe(session.spec()), rules.device(), session.spec().out().toString(),
                records, warnings, (System.nanoTime() - start) / 1e9, outputBytes, runInfo(session, rules, notes));
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
        return new RunInfo("wudi", Version.get(), String.valueOf(session.spec().base()), modelPaths,
                settings(session, rules), session.spec().command() != null ? session.spec().command()
                : ReproduceCommand.of(session.spec()), allNotes, extras);
    }

    /**
     * Every option that decides the output as given or by default, as the reports and the model card list them (the
     * heads policy as the plan resolved it, and the device the method ran on).
     */
    static Map<String, String> settings(MergeSession session, TensorRules rules) {
        Map<String, String> m = new LinkedHashMap<>();
        session.spec().settings(MergeOption.Effect.OUTPUT).forEach((o, v) -> m.put(o.name().substring(2),
                o == OptionTable.HEADS ? session.plan().heads().cliName() : v));
        m.put("device", rules.backendName());
        return m;
    }

    /** The same report, its seconds counted to now (once the output is in place). */
    static MergeReport timed(MergeReport r, long start) {
        return new MergeReport(r.method(), r.device(), r.out(), r.tensors(), r.warnings(),
                (System.nanoTime() - start) / 1e9, r.outputBytes(), r.run());
    }

    /**
     * The summary's line (an info, not a warning: the default is deliberate) about tensors that kept the base
     * although the fine-tunes changed them (embeddings, norms, biases under --rest base), with how to merge them.
     */
    private static Optional<String> keptNote(List<String> keptChanged) {
        if (keptChanged.isEmpty()) {
            return Optional.empty();
        }
        int n = keptChanged.size();
        String some = String.join(", ", keptChanged.subList(0, Math.min(4, n))) + (n > 4 ? ", ..." : "");
        return Optional.of(n + " tensor" + (n == 1 ? "" : "s") + " kept the base although the fine-tunes changed "
                + (n == 1 ? "it" : "them") + " (" + some + ") under --rest base: --rest average or --rest"
                + " task-arithmetic merges them, --include REGEX gives them to the method");
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
