package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionException;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.format.TensorInfo;
import dev.wudi.lora.AdapterCheckpoint;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.lora.ZeroBase;
import dev.wudi.model.LayoutOverride;
import dev.wudi.model.ModelConfig;
import dev.wudi.model.TensorClassifier;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The opened inputs of a merge: the base and the models in --model order, each a full checkpoint or a LoRA adapter
 * folder composed over the base ({@link AdapterCheckpoint}). Closing closes everything opened, whatever failed.
 */
final class Inputs implements AutoCloseable {

    private final Checkpoint base;
    private final List<Checkpoint> models;
    private final List<LoraAdapter> adapters;
    private final List<AutoCloseable> opened;
    private final List<LayoutOverride> layoutHints;
    /** Models given as MODEL+LORA: index -> {model, adapter}. */
    private final java.util.Map<Integer, Path[]> onTop = new java.util.LinkedHashMap<>();
    /** Their models' weight files, recorded when opened (the fingerprint needs them, not another open). */
    private final java.util.Map<Integer, List<Path>> onTopFiles = new java.util.LinkedHashMap<>();

    private Inputs(Checkpoint base, List<Checkpoint> models, List<LoraAdapter> adapters, List<AutoCloseable> opened,
                   List<LayoutOverride> layoutHints) {
        this.base = base;
        this.models = models;
        this.adapters = adapters;
        this.opened = opened;
        this.layoutHints = layoutHints;
    }

    static Inputs open(MergeSpec o) throws IOException {
        if (o.base() == null) {
            return openWithoutBase(o);
        }
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Checkpoint base = Checkpoint.open(o.base());
            opened.add(base);
            List<Checkpoint> models = new ArrayList<>();
            List<LoraAdapter> adapters = new ArrayList<>();
            java.util.Map<Integer, Path[]> onTop = new java.util.LinkedHashMap<>();
            java.util.Map<Integer, List<Path>> onTopFiles = new java.util.LinkedHashMap<>();
            for (Path p : o.models()) {
                Path[] withLora = withLora(p);
                if (withLora != null) {
                    Checkpoint m = Checkpoint.open(withLora[0]);
                    opened.add(m);
                    onTopFiles.put(models.size(), m.weightFiles());
                    models.add(loraOnTop(o, m, withLora[0], withLora[1], opened));
                    adapters.add(null);                  // a fine-tune of its own, not an adapter of the base
                    onTop.put(models.size() - 1, withLora);
                } else if (LoraAdapter.isAdapter(p)) {
                    LoraAdapter a = LoraAdapter.open(p);
                    opened.add(a);
                    adapters.add(a);
                    models.add(null);                    // composed below, once every adapter is known
                } else {
                    Checkpoint m = Checkpoint.open(p);
                    opened.add(m);
                    models.add(m);
                    adapters.add(null);
                }
            }
            List<LayoutOverride> hints = compose(o, base, ModelConfig.of(base.path()), adapters, models);
            Inputs in = new Inputs(base, Collections.unmodifiableList(models), Collections.unmodifiableList(adapters),
                    opened, hints);
            in.onTop.putAll(onTop);
            in.onTopFiles.putAll(onTopFiles);
            return in;
        } catch (IOException | RuntimeException e) {
            close(opened);
            throw e;
        }
    }

    /**
     * mergekit's {@code MODEL+LORA}: where the path as given does not exist, a split at a '+' whose two sides are a
     * model and a LoRA adapter folder; else null.
     */
    static Path[] withLora(Path p) {
        if (java.nio.file.Files.exists(p)) {
            return null;
        }
        String s = p.toString();
        for (int i = s.indexOf('+'); i > 0; i = s.indexOf('+', i + 1)) {
            Path model = Path.of(s.substring(0, i));
            Path lora = Path.of(s.substring(i + 1));
            if (java.nio.file.Files.exists(model) && LoraAdapter.isAdapter(lora)) {
                return new Path[] {model, lora};
            }
        }
        return null;
    }

    /** A fine-tune with a LoRA adapter on top: the adapter composed over that model (its weights W_k + scaling B A). */
    private static Checkpoint loraOnTop(MergeSpec o, Checkpoint m, Path model, Path lora, List<AutoCloseable> opened)
            throws IOException {
        LoraAdapter a = LoraAdapter.open(lora);
        opened.add(a);
        ModelConfig config = ModelConfig.of(model);
        List<TensorInfo> infos = new ArrayList<>();
        m.names().forEach(n -> infos.add(m.tensor(n).info()));
        TensorClassifier classifier = new TensorClassifier(config, o.layouts(), infos);
        return AdapterCheckpoint.over(m, a, config, t -> classifier.classify(t).layout());
    }

    /**
     * Composes each adapter over the base (into models' null slots) with the layouts of the merge plan, plus the
     * hints fan_in_fan_out gives where nothing else decides (no config.json, no name rule, no --layout): PEFT sets
     * fan_in_fan_out by module type, so an adapter that says true was trained on a weight stored [in, out].
     *
     * @return the hints, for the plan
     */
    private static List<LayoutOverride> compose(MergeSpec o, Checkpoint base, ModelConfig config,
                                                List<LoraAdapter> adapters, List<Checkpoint> models) {
        if (adapters.stream().allMatch(a -> a == null)) {
            return List.of();
        }
        List<TensorInfo> infos = new ArrayList<>();
        base.names().forEach(n -> infos.add(base.tensor(n).info()));
        TensorClassifier byNames = new TensorClassifier(config, o.layouts(), infos);
        java.util.Map<String, LayoutOverride> hints = new java.util.LinkedHashMap<>();
        for (LoraAdapter a : adapters) {
            if (a == null || !a.config().fanInFanOut()) {
                continue;
            }
            AdapterCheckpoint.baseNames(base, a, config).forEach((module, name) -> {
                TensorClassifier.Classification c = byNames.classify(base.tensor(name).info());
                if (c.layout() == dev.wudi.model.Layout.OUT_IN && c.source().startsWith("default")) {
                    hints.putIfAbsent(name, new LayoutOverride(java.util.regex.Pattern.compile(
                            "^" + java.util.regex.Pattern.quote(name) + "$"), dev.wudi.model.Layout.IN_OUT,
                            "adapter_config.json fan_in_fan_out (" + a.dir() + ")"));
                }
            });
        }
        List<LayoutOverride> layouts = new ArrayList<>(o.layouts());
        layouts.addAll(hints.values());
        TensorClassifier classifier = new TensorClassifier(config, layouts, infos);
        for (int i = 0; i < adapters.size(); i++) {
            if (adapters.get(i) != null) {
                models.set(i, AdapterCheckpoint.over(base, adapters.get(i), config,
                        t -> classifier.classify(t).layout()));
            }
        }
        return List.copyOf(hints.values());
    }

    /**
     * Adapters without --base (--as-adapter only): they are composed over zeros ({@link ZeroBase}), so each one's
     * "fine-tune" is its delta; a full checkpoint among them is refused, since it has no task vector without W_0.
     */
    private static Inputs openWithoutBase(MergeSpec o) throws IOException {
        if (o.asAdapter() == null) {
            throw new OptionException("--base is needed (it may be left out only with --as-adapter)");
        }
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            List<LoraAdapter> adapters = new ArrayList<>();
            for (Path p : o.models()) {
                if (!LoraAdapter.isAdapter(p)) {
                    throw new OptionException("without --base every --model must be a LoRA adapter folder, but " + p
                            + " is not (no " + LoraAdapter.CONFIG + "); pass the base model with --base");
                }
                LoraAdapter a = LoraAdapter.open(p);
                opened.add(a);
                adapters.add(a);
                for (Map.Entry<String, dev.wudi.checkpoint.TensorRef> f : a.fullTensors().entrySet()) {
                    if (TensorClassifier.plain(f.getValue().info()).role() != dev.wudi.model.TensorRole.HEAD) {
                        throw new OptionException("model " + (adapters.size()) + " (" + p + ") saves " + f.getKey()
                                + " in full (modules_to_save): its task vector needs the base's value; pass --base");
                    }
                }
            }
            Checkpoint base = ZeroBase.of(adapters);
            List<Checkpoint> models = new ArrayList<>(java.util.Collections.nCopies(adapters.size(), null));
            List<LayoutOverride> hints = compose(o, base, ModelConfig.absent(), adapters, models);
            return new Inputs(base, Collections.unmodifiableList(models), Collections.unmodifiableList(adapters),
                    opened, hints);
        } catch (IOException | RuntimeException e) {
            close(opened);
            throw e;
        }
    }

    /** --layout hints the inputs imply (fan_in_fan_out adapters without a base), after the user's own. */
    List<LayoutOverride> layoutHints() {
        return layoutHints;
    }

    /** The options the plan is made with: the user's, with the inputs' layout hints added. */
    MergeSpec planOptions(MergeSpec o) {
        if (layoutHints.isEmpty()) {
            return o;
        }
        List<LayoutOverride> all = new ArrayList<>(o.layouts());
        all.addAll(layoutHints);
        return o.toBuilder().layouts(all).build();
    }

    Checkpoint base() {
        return base;
    }

    List<Checkpoint> models() {
        return models;
    }

    /**
     * The files whose bytes decide model i's weights, for --resume's fingerprint: its weight files, an adapter's
     * config, and for MODEL+LORA the model's weight files and the adapter's config too.
     */
    List<Path> fingerprintFiles(int i) throws IOException {
        List<Path> out = new ArrayList<>(models.get(i).weightFiles());
        if (adapters.get(i) != null) {
            out.add(adapters.get(i).config().file());
        }
        Path[] t = onTop.get(i);
        if (t != null) {
            out.addAll(onTopFiles.get(i));
            out.add(t[1].resolve(LoraAdapter.CONFIG));
        }
        return out;
    }

    /** Model i's adapter, or null where model i is a full checkpoint. */
    LoraAdapter adapter(int i) {
        return adapters.get(i);
    }

    /** Each model's adapter or null, in --model order. */
    List<LoraAdapter> adapters() {
        return adapters;
    }

    /**
     * One line per folder read from its single file beside an index, one per adapter (what it is), and one where the
     * adapters name different base models than each other or than the base's config.json: each delta is applied to
     * the base given, which only the user can vouch for.
     */
    List<String> notes() {
        List<String> out = new ArrayList<>();
        for (AutoCloseable c : opened) {
            if (c instanceof Checkpoint cp && cp.note() != null) {
                out.add(cp.note());                   // a folder holding both a single file and an index
            }
        }
        java.util.Map<String, List<String>> byBase = new java.util.LinkedHashMap<>();
        for (int i = 0; i < adapters.size(); i++) {
            LoraAdapter a = adapters.get(i);
            if (a == null) {
                continue;
            }
            out.add(MergePlanner.who(models, i) + ": a LoRA adapter (" + a.describe() + "), merged as the full"
                    + " fine-tune base + scaling B A");
            String named = a.config().baseModel();
            byBase.computeIfAbsent(named == null ? "(none)" : named, k -> new ArrayList<>()).add("model " + (i + 1));
        }
        onTop.forEach((i, t) -> out.add("model " + (i + 1) + ": the fine-tune " + t[0] + " with the LoRA adapter " + t[1]
                + " on top (its weights W + scaling B A)"));
        String baseName = baseName();
        boolean other = baseName != null && byBase.keySet().stream().anyMatch(n -> !sameModel(n, baseName));
        if (byBase.size() > 1 || other) {
            List<String> parts = new ArrayList<>();
            byBase.forEach((n, who) -> parts.add(n + " (" + String.join(", ", who) + ")"));
            out.add("the adapters were trained on " + String.join(", ", parts)
                    + (baseName != null ? " and the base is " + baseName : "") + ": every delta is applied to the"
                    + " base given (" + base.path() + "); merge adapters of one base model for a meaningful result");
        }
        return out;
    }

    /** The base's _name_or_path from its config.json, or null. */
    private String baseName() {
        if (base.path() == ZeroBase.PATH) {
            return null;
        }
        try {
            com.fasterxml.jackson.databind.JsonNode c = ModelConfig.of(base.path()).json();
            String n = c.path("_name_or_path").asText("");
            return n.isEmpty() ? null : n;
        } catch (IOException e) {
            return null;
        }
    }

    /** "gpt2" and "openai-community/gpt2" (or a local path ending in gpt2) name the same model. */
    private static boolean sameModel(String a, String b) {
        return tail(a).equalsIgnoreCase(tail(b));
    }

    private static String tail(String s) {
        String t = s.replaceAll("[/\\\\]+$", "");
        int slash = Math.max(t.lastIndexOf('/'), t.lastIndexOf('\\'));
        return slash < 0 ? t : t.substring(slash + 1);
    }

    boolean anyAdapter() {
        return adapters.stream().anyMatch(a -> a != null);
    }

    private static void close(List<AutoCloseable> opened) {
        for (int i = opened.size() - 1; i >= 0; i--) {
            try {
                opened.get(i).close();
            } catch (Exception ignored) {
                // closing a mapping does not fail in a way worth reporting over the original error
            }
        }
    }

    @Override
    public void close() {
        close(opened);
    }
}
