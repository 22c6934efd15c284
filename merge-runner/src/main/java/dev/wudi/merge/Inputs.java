package dev.wudi.merge;

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

    private Inputs(Checkpoint base, List<Checkpoint> models, List<LoraAdapter> adapters, List<AutoCloseable> opened,
                   List<LayoutOverride> layoutHints) {
        this.base = base;
        this.models = models;
        this.adapters = adapters;
        this.opened = opened;
        this.layoutHints = layoutHints;
    }

    static Inputs open(MergeOptions o) throws IOException {
        if (o.base() == null) {
            return openWithoutBase(o);
        }
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Checkpoint base = Checkpoint.open(o.base());
            opened.add(base);
            TensorClassifier classifier = null;
            ModelConfig baseConfig = null;
            List<Checkpoint> models = new ArrayList<>();
            List<LoraAdapter> adapters = new ArrayList<>();
            for (Path p : o.models()) {
                if (LoraAdapter.isAdapter(p)) {
                    if (classifier == null) {
                        baseConfig = ModelConfig.of(base.path());
                        List<TensorInfo> infos = new ArrayList<>();
                        base.names().forEach(n -> infos.add(base.tensor(n).info()));
                        classifier = new TensorClassifier(baseConfig, o.layouts(), infos);
                    }
                    LoraAdapter a = LoraAdapter.open(p);
                    opened.add(a);
                    TensorClassifier c = classifier;
                    Checkpoint composed = AdapterCheckpoint.over(base, a, baseConfig, t -> c.classify(t).layout());
                    models.add(composed);
                    adapters.add(a);
                } else {
                    Checkpoint m = Checkpoint.open(p);
                    opened.add(m);
                    models.add(m);
                    adapters.add(null);
                }
            }
            return new Inputs(base, Collections.unmodifiableList(models), Collections.unmodifiableList(adapters), opened,
                    List.of());
        } catch (IOException | RuntimeException e) {
            close(opened);
            throw e;
        }
    }

    /**
     * Adapters without --base (--as-adapter only): they are composed over zeros ({@link ZeroBase}), so each one's
     * "fine-tune" is its delta; a full checkpoint among them is refused, since it has no task vector without W_0.
     */
    private static Inputs openWithoutBase(MergeOptions o) throws IOException {
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
            List<TensorInfo> infos = new ArrayList<>();
            base.names().forEach(n -> infos.add(base.tensor(n).info()));
            // fan_in_fan_out says where the name rules cannot (a Conv1D not named like GPT-2's): a hint for those only
            TensorClassifier byNames = new TensorClassifier(ModelConfig.absent(), o.layouts(), infos);
            List<LayoutOverride> hints = new ArrayList<>();
            for (LayoutOverride h : ZeroBase.layouts(adapters)) {
                boolean needed = infos.stream().anyMatch(t -> h.regex().matcher(t.name()).find()
                        && byNames.classify(t).layout() != h.layout());
                if (needed) {
                    hints.add(h);
                }
            }
            List<LayoutOverride> layouts = new ArrayList<>(o.layouts());
            layouts.addAll(hints);
            TensorClassifier classifier = new TensorClassifier(ModelConfig.absent(), layouts, infos);
            List<Checkpoint> models = new ArrayList<>();
            for (LoraAdapter a : adapters) {
                models.add(AdapterCheckpoint.over(base, a, ModelConfig.absent(), t -> classifier.classify(t).layout()));
            }
            return new Inputs(base, Collections.unmodifiableList(models), Collections.unmodifiableList(adapters),
                    opened, List.copyOf(hints));
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
    MergeOptions planOptions(MergeOptions o) {
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

    /** Model i's adapter, or null where model i is a full checkpoint. */
    LoraAdapter adapter(int i) {
        return adapters.get(i);
    }

    /** Each model's adapter or null, in --model order. */
    List<LoraAdapter> adapters() {
        return adapters;
    }

    /**
     * One line per adapter (what it is), and one where the adapters name different base models than each other or
     * than the base's config.json: each delta is applied to the base given, which only the user can vouch for.
     */
    List<String> notes() {
        List<String> out = new ArrayList<>();
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
