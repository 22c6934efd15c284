package dev.wudi.spec;

import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One option of a merge, declared once in {@link OptionTable}: its names, the label of its value, its default, what it
 * applies to, whether it decides the output's bytes, and its help. The command line's options, the checks of every
 * surface (command line, Java API, mergekit config), the fingerprint for --resume, the reproduce command, the report's
 * settings and docs/options.md are all made from these declarations.
 */
public final class MergeOption {

    /** Where the option stands in help and docs. */
    public enum Group {
        INPUTS("Inputs and output"),
        METHOD("Method"),
        SOLVER("WUDI's solver"),
        SELECTION("Which tensors"),
        OUTPUT("The output"),
        REPORTS("Reports"),
        RUN("Running");

        private final String title;

        Group(String title) {
            this.title = title;
        }

        public String title() {
            return title;
        }
    }

    /** What an option changes: the output's bytes (part of the fingerprint and the reproduce command), or not. */
    public enum Effect {
        /** Decides the output: written in the reproduce command and the report's settings, and fingerprinted. */
        OUTPUT,
        /**
         * How the output's bytes come out without changing what the merge is (the CPU's threads, the GPU's GEMM
         * precision, the report's losses): fingerprinted, so a resume continues exactly, but not pinned in a reproduce
         * command.
         */
        FINGERPRINT,
        /** Where or how the merge runs, or what else it writes; not the output's bytes. */
        RUN
    }

    /**
     * Where an option applies: a test on the merge and the words that name it ("--solver adam", "ties, della").
     *
     * @param test  whether it applies to this merge
     * @param where what it applies to, given the merge (for the refusal of an option given where it does not)
     */
    public record Applies(Predicate<MergeSpec> test, Function<MergeSpec, String> why, String where) {
        /** Applies always. */
        public static final Applies ALWAYS = new Applies(s -> true, s -> "", "");

        /** Both this and then: the first that fails says why. */
        public Applies and(Applies then) {
            return new Applies(s -> test.test(s) && then.test.test(s),
                    s -> !test.test(s) ? why.apply(s) : then.why.apply(s), then.where.isEmpty() ? where : then.where);
        }
    }

    private final List<String> names;
    private final String label;
    private final Group group;
    private final Effect effect;
    private final String defaultText;
    private final Function<MergeSpec, String> defaultFrom;
    private final Applies applies;
    private final boolean repeatable;
    private final List<String> configNames;
    private final String help;

    private MergeOption(Builder b) {
        this.names = List.copyOf(b.names);
        this.label = b.label;
        this.group = Objects.requireNonNull(b.group, "group");
        this.effect = b.effect;
        this.defaultText = b.defaultText;
        this.defaultFrom = b.defaultFrom;
        this.applies = b.applies;
        this.repeatable = b.repeatable;
        this.configNames = List.copyOf(b.configNames);
        this.help = Objects.requireNonNull(b.help, "help");
    }

    /** Declares an option named name (and aliases, e.g. -q): see {@link Builder}. */
    static Builder option(String... names) {
        return new Builder(names);
    }

    /** Its long name, "--lr". */
    public String name() {
        return names.get(names.size() - 1).startsWith("--") ? names.get(names.size() - 1) : names.get(0);
    }

    /** Every name it answers to ("-q", "--quiet"). */
    public List<String> names() {
        return names;
    }

    /** The label of its value ("LR"), or null for a flag. */
    public String label() {
        return label;
    }

    /** Whether it takes no value. */
    public boolean flag() {
        return label == null;
    }

    public Group group() {
        return group;
    }

    public Effect effect() {
        return effect;
    }

    /** Its default as the command line would spell it, or null where there is none (unset). */
    public String defaultText() {
        return defaultText;
    }

    /** Its default for this merge where it depends on the merge (a method's scale), else {@link #defaultText()}. */
    public String defaultFor(MergeSpec s) {
        return defaultFrom != null ? defaultFrom.apply(s) : defaultText;
    }

    public Applies applies() {
        return applies;
    }

    /** Whether it may be given more than once (--model, --layout). */
    public boolean repeatable() {
        return repeatable;
    }

    /** What a mergekit config calls it (wudi's learning_rate for --lr), or empty. */
    public List<String> configNames() {
        return configNames;
    }

    /** The help text, without the applicability and default (which {@link #fullHelp()} adds). */
    public String help() {
        return help;
    }

    /** "(--solver adam) Adam's learning rate ... Default: 1e-5." */
    public String fullHelp() {
        return (applies.where().isEmpty() ? "" : applies.where() + ": ") + help
                + (defaultText == null || flag() ? "" : " Default: " + defaultText + ".");
    }

    @Override
    public String toString() {
        return name();
    }

    /** The declaration of one option. */
    static final class Builder {
        private final List<String> names;
        private String label;
        private Group group;
        private Effect effect = Effect.OUTPUT;
        private String defaultText;
        private Function<MergeSpec, String> defaultFrom;
        private Applies applies = Applies.ALWAYS;
        private boolean repeatable;
        private List<String> configNames = List.of();
        private String help;

        private Builder(String... names) {
            this.names = List.of(names);
        }

        Builder label(String v) {
            label = v;
            return this;
        }

        Builder group(Group v) {
            group = v;
            return this;
        }

        Builder run() {
            effect = Effect.RUN;
            return this;
        }

        Builder fingerprint() {
            effect = Effect.FINGERPRINT;
            return this;
        }

        Builder defaultText(String v) {
            defaultText = v;
            return this;
        }

        /** A default that depends on the merge (the method's scale or density). */
        Builder defaultFrom(Function<MergeSpec, String> v) {
            defaultFrom = v;
            return this;
        }

        Builder applies(Applies v) {
            applies = v;
            return this;
        }

        Builder repeatable() {
            repeatable = true;
            return this;
        }

        Builder config(String... v) {
            configNames = List.of(v);
            return this;
        }

        MergeOption help(String v) {
            help = v;
            return new MergeOption(this);
        }
    }
}
