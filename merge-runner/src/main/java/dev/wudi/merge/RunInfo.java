package dev.wudi.merge;

import dev.wudi.checkpoint.Version;
import java.util.List;
import java.util.Map;

/**
 * What produced a merge and what it did, for its reports and model card, which all say it from here: the tool and
 * its version, the inputs, every option that decides the output (defaults written out), the command that reproduces
 * it, what was done to each kind of tensor, what the plan and the merge noted (tensors kept as the base although the
 * fine-tunes changed them among them), and the fine-tunes' tensors the output does not hold as such.
 *
 * @param base    the base as given, or "" for a merge without one
 * @param options name -> value as given, in a stable order ("method" -> "wudi", "solver" -> "adam", "lr" -> "1e-5")
 * @param actions what was done, one line per action and role ({@link ActionSummary})
 * @param extras  each "model K: NAME [shape]: fate"
 */
public record RunInfo(String tool, String version, String base, List<String> models, Map<String, String> options,
                      String command, List<String> actions, List<String> notes, List<String> extras) {

    public RunInfo {
        models = List.copyOf(models);
        options = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(options));
        actions = List.copyOf(actions);
        notes = List.copyOf(notes);
        extras = List.copyOf(extras);
    }

    /** For reports built without a run (tests, benchmarks). */
    public static RunInfo none() {
        return new RunInfo("wudi", Version.get(), "", List.of(), Map.of(), "", List.of(), List.of(), List.of());
    }

    /** Whether this describes a run (not {@link #none()}). */
    public boolean known() {
        return !command.isEmpty();
    }
}
