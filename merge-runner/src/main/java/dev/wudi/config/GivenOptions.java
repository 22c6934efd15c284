package dev.wudi.config;

import dev.wudi.method.ParameterSource;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpecBuilder;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.SpecText;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A merge as text ({@link SpecText}) read into a spec's builder: its options alone, or over the mergekit config it
 * names, each option given replacing what the config says of it (the config's lambda, density, t and seed per tensor
 * too). The command line reads its merge here, and so does each executor of a distributed merge, from the same text.
 */
public final class GivenOptions {

    /** The options that replace a config's values per model and per tensor ({@link #replacing}). */
    private static final java.util.Set<MergeOption> PER_TENSOR = java.util.Set.of(OptionTable.SCALE,
            OptionTable.DENSITY, OptionTable.T, OptionTable.SEED);

    private GivenOptions() {
    }

    /**
     * The builder of the merge the text describes.
     *
     * @param say told the config's notes and one line naming the settings the options given replace in it
     */
    public static MergeSpecBuilder builder(SpecText text, Consumer<String> say) throws IOException {
        if (text.config() == null) {
            return text.builder();
        }
        Path config = Path.of(text.config());
        ConfigOptions.Result r = ConfigOptions.read(config, Path.of(text.out()));
        MergeSpecBuilder b = r.builder();
        List<String> overridden = new ArrayList<>();
        ParameterSource params = b.build().parameters();
        List<String> solverOptions = new ArrayList<>();
        Map<MergeOption, String> lastGiven = new java.util.LinkedHashMap<>();
        for (Map.Entry<MergeOption, List<String>> e : text.given().entrySet()) {
            MergeOption o = e.getKey();
            List<String> texts = e.getValue();
            lastGiven.put(o, texts.get(texts.size() - 1));
            boolean replaces = b.isSet(o) || params instanceof ConfigParameters && PER_TENSOR.contains(o);
            if (o == OptionTable.SOLVER || o.group() == MergeOption.Group.SOLVER && !o.configNames().isEmpty()) {
                solverOptions.add(o.name());
            } else if (replaces && o.effect() == MergeOption.Effect.OUTPUT) {
                overridden.add(o.name() + (o == OptionTable.SCALE ? " (the config's lambda)"
                        : o == OptionTable.SEED ? " (the config's random_seed)" : ""));
            }
            b.set(o, null);
            texts.forEach(t -> b.set(o, t));
        }
        if (!solverOptions.isEmpty()) {
            overridden.add(0, String.join(" ", solverOptions));
        }
        b.build();                                          // every text checked before the config's values read one
        for (Map.Entry<MergeOption, String> e : lastGiven.entrySet()) {
            params = replacing(params, e.getKey(), e.getValue());
        }
        b.parameters(params);
        r.notes().forEach(say);
        if (!overridden.isEmpty()) {
            say.accept("given on the command line, overriding " + config + ": " + String.join(", ", overridden));
        }
        return b.command(text.command());
    }

    /**
     * A config's parameters once option o, given as last, replaces what the config says of it for every tensor:
     * --scale its lambda, --density its density, --t its t and --seed its random_seed, per model and per tensor too
     * (a spec's scale alone would lose to a model's own lambda). params itself for any other option or source.
     */
    public static ParameterSource replacing(ParameterSource params, MergeOption o, String last) {
        // last was checked by MergeSpecBuilder.build (a number for --t, an integer for --seed)
        if (!(params instanceof ConfigParameters cp)) {
            return params;
        }
        if (o == OptionTable.SCALE) {
            return cp.without("lambda");
        } else if (o == OptionTable.DENSITY) {
            return cp.without("density");
        } else if (o == OptionTable.T) {
            return cp.withGlobal("t", Double.parseDouble(last));
        } else if (o == OptionTable.SEED) {
            return cp.withSeed(Long.parseLong(last.trim()));
        }
        return params;
    }
}
