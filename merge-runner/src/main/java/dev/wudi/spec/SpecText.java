package dev.wudi.spec;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A merge as text: the form a {@link MergeSpec} travels in (to a cluster's executors, which build the same spec from
 * it). The inputs and the output as given (a remote URI keeps its {@code scheme://}, which a {@link Path} would not),
 * or the mergekit config that gives the inputs; every other option's texts by name, in the order given (over a config,
 * these are the settings given on top of it); and the command as typed, for the model card. A merge without a config
 * is built by {@link #builder()}; one with a config by {@code config.GivenOptions}, which reads the config first.
 *
 * @param base    the base as given, or null (a config gives it, or none: --as-adapter)
 * @param models  the models as given (empty where a config gives them)
 * @param out     the output as given
 * @param config  the mergekit config's path, or null
 * @param options every other option given: its name to its texts (several for a repeatable one)
 * @param command the command as typed, or null
 */
public record SpecText(String base, List<String> models, String out, String config, Map<String, List<String>> options,
                       String command) implements Serializable {

    private static final long serialVersionUID = 1L;

    /** One path of the merge, as given: the option that gives it and its text. */
    public record Place(MergeOption option, String text) {
    }

    public SpecText {
        models = List.copyOf(models);
        Map<String, List<String>> copy = new LinkedHashMap<>();
        options.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        options = Collections.unmodifiableMap(copy);
    }

    /** The options by their declarations, in the order given; an unknown name is refused. */
    public Map<MergeOption, List<String>> given() {
        Map<MergeOption, List<String>> g = new LinkedHashMap<>();
        options.forEach((name, texts) -> {
            MergeOption o = OptionTable.byName(name);
            if (o == null || o.group() == MergeOption.Group.INPUTS) {
                throw new OptionException(name + " is not an option of a merge here");
            }
            g.put(o, texts);
        });
        return g;
    }

    /** The builder of this merge, every option set as given (a config's merge is built by config.GivenOptions). */
    public MergeSpecBuilder builder() {
        if (config != null) {
            throw new IllegalStateException("a merge from a config: read it with config.GivenOptions");
        }
        List<Path> m = new ArrayList<>();
        models.forEach(x -> m.add(Path.of(x)));
        MergeSpecBuilder b = MergeSpec.builder(base == null ? null : Path.of(base), m, Path.of(out));
        given().forEach((o, texts) -> texts.forEach(t -> b.set(o, t)));
        return b.command(command);
    }

    /** Every path the merge reads or writes, as given: the base, the models, the config, the output, the reports. */
    public List<Place> paths() {
        List<Place> p = new ArrayList<>();
        if (base != null) {
            p.add(new Place(OptionTable.BASE, base));
        }
        models.forEach(m -> p.add(new Place(OptionTable.MODEL, m)));
        if (config != null) {
            p.add(new Place(OptionTable.CONFIG, config));
        }
        p.add(new Place(OptionTable.OUT, out));
        for (MergeOption o : List.of(OptionTable.REPORT, OptionTable.REPORT_HTML)) {
            options.getOrDefault(o.name(), List.of()).forEach(t -> p.add(new Place(o, t)));
        }
        return p;
    }

    /** The same merge with its {@link #paths()} replaced, in their order (a task's local copies of remote ones). */
    public SpecText withPaths(List<String> texts) {
        if (texts.size() != paths().size()) {
            throw new IllegalArgumentException(paths().size() + " paths, " + texts.size() + " given");
        }
        int i = 0;
        String b = base != null ? texts.get(i++) : null;
        List<String> m = new ArrayList<>();
        for (int k = 0; k < models.size(); k++) {
            m.add(texts.get(i++));
        }
        String c = config != null ? texts.get(i++) : null;
        String o = texts.get(i++);
        Map<String, List<String>> opts = new LinkedHashMap<>(options);
        for (MergeOption r : List.of(OptionTable.REPORT, OptionTable.REPORT_HTML)) {
            List<String> old = options.get(r.name());
            if (old != null) {
                opts.put(r.name(), new ArrayList<>(texts.subList(i, i + old.size())));
                i += old.size();
            }
        }
        return new SpecText(b, m, o, c, opts, command);
    }
}
