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
        for (Map.Entry<MergeOption, List<String>> e : text.given().entrySet()) {
            MergeOption o = e.getKey();
            List<String> texts = e.getValue();
            String last = texts.get(texts.size() - 1);
            boolean replaces = b.isSet(o);
            if (o == OptionTable.SCALE && params instanceof ConfigParameters cp) {
                params = cp.without("lambda");              // the config's lambda, per tensor too
                replaces = true;
            } else if (o == OptionTable.DENSITY && params instanceof ConfigParameters cp) {
                params = cp.without("density");
                replaces = true;
            } else if (o == OptionTable.T && params instanceof ConfigParameters cp) {
                params = cp.withGlobal("t", Double.parseDouble(last));
                replaces = true;
            } else if (o == OptionTable.SEED && params instanceof ConfigParameters cp) {
                params = cp.withSeed(Long.parseLong(last.trim()));
                replaces = true;
            }
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
        b.parameters(params);
        r.notes().forEach(say);
        if (!overridden.isEmpty()) {
            say.accept("given on the command line, overriding " + config + ": " + String.join(", ", overridden));
        }
        return b.command(text.command());
    }
}
