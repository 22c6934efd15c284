package dev.wudi.merge;

import dev.wudi.checkpoint.Version;
import java.util.List;
import java.util.Map;

/**
 * What produced a merge, for its reports and model card: the tool and its version, the inputs, every option
 * that decides the output (defaults written out), the command that reproduces it, what the plan noted, and the
 * fine-tunes' tensors the output does not hold as such.
 *
 * @param options name -> value, in a stable order ("method" -> "wudi", "solver" -> "adam", "lr" -> "1e-05", ...)
 * @param extras  each "model K: NAME [shape]: fate"
 */
public record RunInfo(String tool, String version, String base, List<String> models, Map<String, String> options,
                      String command, List<String> notes, List<String> extras) {

    public RunInfo {
        models = List.copyOf(models);
        options = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(options));
        notes = List.copyOf(notes);
        extras = List.copyOf(extras);
    }

    /** For reports built without a run (tests, benchmarks). */
    public static RunInfo none() {
        return new RunInfo("wudi", Version.get(), "", List.of(), Map.of(), "", List.of(), List.of());
    }
}
