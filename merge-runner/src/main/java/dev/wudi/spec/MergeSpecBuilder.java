package dev.wudi.spec;

import dev.wudi.format.DType;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.ParameterSource;
import dev.wudi.model.LayoutOverride;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralFilter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A spec being described: options set as text ({@link #set}) by a parser, or through the typed setters by Java
 * code; {@link #build()} checks everything.
 */
public final class MergeSpecBuilder {
    // read by MergeSpec, which is built from them
    Path base;
    List<Path> models;
    Path out;
    final Map<MergeOption, List<String>> given = new LinkedHashMap<>();
    ParameterSource parameters;
    String command;
    MergeSpec.ConfigSource config;
    boolean baseStandsIn;

    MergeSpecBuilder(Path base, List<Path> models, Path out) {
        this.base = base;
        this.models = models == null ? List.of() : List.copyOf(models);
        this.out = out;
    }

    /** Sets option o to the text given (for a repeatable option: adds it), or clears it where text is null. */
    public MergeSpecBuilder set(MergeOption o, String text) {
        if (text == null) {
            given.remove(o);
        } else if (o.repeatable()) {
            given.computeIfAbsent(o, k -> new ArrayList<>()).add(text);
        } else {
            given.put(o, new ArrayList<>(List.of(text)));
        }
        return this;
    }

    /** Sets a flag option on (or clears it). */
    public MergeSpecBuilder flag(MergeOption o, boolean on) {
        return set(o, on ? "true" : null);
    }

    /** Whether option o is set here. */
    public boolean isSet(MergeOption o) {
        return given.containsKey(o);
    }

    public MergeSpecBuilder method(MergeMethod v) {
        return set(OptionTable.METHOD, v == null ? null : v.name());
    }

    public MergeSpecBuilder scale(Double v) {
        return set(OptionTable.SCALE, v == null ? null : String.valueOf(v));
    }

    public MergeSpecBuilder density(Double v) {
        return set(OptionTable.DENSITY, v == null ? null : String.valueOf(v));
    }

    /** Adam's five settings. */
    public MergeSpecBuilder adam(AdamConfig v) {
        set(OptionTable.LR, String.valueOf(v.lr()));
        set(OptionTable.ITERS, String.valueOf(v.iterations()));
        set(OptionTable.BETA1, String.valueOf(v.beta1()));
        set(OptionTable.BETA2, String.valueOf(v.beta2()));
        return set(OptionTable.EPS, String.valueOf(v.eps()));
    }

    public MergeSpecBuilder include(Pattern v) {
        return set(OptionTable.INCLUDE, v == null ? null : flags(v));
    }

    public MergeSpecBuilder exclude(Pattern v) {
        return set(OptionTable.EXCLUDE, v == null ? null : flags(v));
    }

    private static String flags(Pattern p) {
        return (p.flags() & Pattern.CASE_INSENSITIVE) != 0 ? "(?i)" + p.pattern() : p.pattern();
    }

    public MergeSpecBuilder rest(RestPolicy v) {
        return set(OptionTable.REST, v == null ? null : v.cliName());
    }

    public MergeSpecBuilder outDType(DType v) {
        return set(OptionTable.DTYPE, v == null ? null : v.name().toLowerCase(Locale.ROOT));
    }

    public MergeSpecBuilder shardBytes(long v) {
        return set(OptionTable.SHARD_SIZE, String.valueOf(v));
    }

    public MergeSpecBuilder threads(int v) {
        return set(OptionTable.THREADS, String.valueOf(v));
    }

    public MergeSpecBuilder force(boolean v) {
        return flag(OptionTable.FORCE, v);
    }

    /** WUDI's solver and its settings (Adam's included). */
    public MergeSpecBuilder solver(SolverSpec v) {
        for (MergeOption o : List.of(OptionTable.RIDGE, OptionTable.FLOW_TIME, OptionTable.FILTER,
                OptionTable.FILTER_PARAM, OptionTable.CUTOFF, OptionTable.RANK)) {
            given.remove(o);
        }
        if (v == null) {
            return set(OptionTable.SOLVER, null);
        }
        set(OptionTable.SOLVER, v.name());
        if (v instanceof SolverSpec.Adam a) {
            adam(a.config());
        } else if (v instanceof SolverSpec.Exact e && e.ridge() != 0) {
            set(OptionTable.RIDGE, String.valueOf(e.ridge()));
        } else if (v instanceof SolverSpec.Flow f && !Double.isNaN(f.time())) {
            set(OptionTable.FLOW_TIME, String.valueOf(f.time()));
        } else if (v instanceof SolverSpec.Spectral s) {
            if (s.kind() != SpectralFilter.Kind.EXPONENTIAL) {
                set(OptionTable.FILTER, s.kind().label());
            }
            if (!Double.isNaN(s.param())) {
                set(OptionTable.FILTER_PARAM, String.valueOf(s.param()));
            }
            if (!Double.isNaN(s.cutoff())) {
                set(OptionTable.CUTOFF, String.valueOf(s.cutoff()));
            }
            if (s.rank() > 0) {
                set(OptionTable.RANK, String.valueOf(s.rank()));
            }
        }
        return this;
    }

    /** --lr auto:K (null: the fixed lr). */
    public MergeSpecBuilder autoLr(AutoLr v) {
        if (v != null) {
            set(OptionTable.LR, "auto:" + v.factor());
        } else if (given.containsKey(OptionTable.LR) && given.get(OptionTable.LR).get(0).startsWith("auto")) {
            given.remove(OptionTable.LR);
        }
        return this;
    }

    public MergeSpecBuilder layouts(List<LayoutOverride> v) {
        given.remove(OptionTable.LAYOUT);
        v.forEach(l -> set(OptionTable.LAYOUT, l.toString()));
        return this;
    }

    public MergeSpecBuilder heads(HeadPolicy v) {
        return set(OptionTable.HEADS, v == null ? null : v.cliName());
    }

    public MergeSpecBuilder vocab(VocabPolicy v) {
        return set(OptionTable.VOCAB, v == null ? null : v.cliName());
    }

    public MergeSpecBuilder card(CardPolicy v) {
        return set(OptionTable.CARD, v == null ? null : v.cliName());
    }

    /** The command as typed, for the model card. */
    public MergeSpecBuilder command(String v) {
        command = v;
        return this;
    }

    /** Write a LoRA adapter instead of a full model (null: a full model). */
    public MergeSpecBuilder asAdapter(AdapterOptions v) {
        flag(OptionTable.AS_ADAPTER, v != null);
        return set(OptionTable.ADAPTER_RANK, v == null || v.rank() == 0 ? null : String.valueOf(v.rank()));
    }

    /** Per-tensor method parameters (a merge config's); NONE: the rules' own. */
    public MergeSpecBuilder parameters(ParameterSource v) {
        parameters = v;
        return this;
    }

    /**
     * The merge has no base of its own: the base path is its first model, standing in to give the tensor names and
     * layout (a config without base_model, for a method that needs none).
     */
    public MergeSpecBuilder baseStandsIn(boolean v) {
        baseStandsIn = v;
        return this;
    }

    /** What a mergekit config adds. */
    public MergeSpecBuilder config(MergeSpec.ConfigSource v) {
        config = v;
        return this;
    }

    /** Whether a method other than WUDI reports WUDI's interference loss of its result. */
    public MergeSpecBuilder lossScoring(LossScoring v) {
        return set(OptionTable.INTERFERENCE_LOSS, v == null ? null : v.cliName());
    }

    /** Parses, checks ranges and applicability; an {@link OptionException} names what is wrong. */
    public MergeSpec build() {
        return new MergeSpec(this, true);
    }

    /**
     * As {@link #build()}, but options that do not apply to the merge as described (Adam's settings after the
     * solver became exact, a density after the method became average) are dropped instead of refused: what the
     * {@code with...} derivations of a spec use, where the change itself says which settings still hold.
     */
    public MergeSpec buildDropping() {
        while (true) {
            List<MergeOption> drop = new MergeSpec(this, false).inapplicable();
            if (drop.isEmpty()) {
                return new MergeSpec(this, true);
            }
            drop.forEach(given::remove);
        }
    }
}
