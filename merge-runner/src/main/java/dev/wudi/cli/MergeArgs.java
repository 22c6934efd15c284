package dev.wudi.cli;

import dev.wudi.config.GivenOptions;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionException;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.ReproduceCommand;
import dev.wudi.spec.SpecText;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The options of {@link OptionTable} on a command line: declared on a picocli command ({@link #withOptions}), kept as
 * the texts given, and read into the merge they describe ({@link #text()}, {@link #spec()}), with the lines a user
 * sees outside the merge's progress ({@link #say}). `wudi merge`, `wudi plan`, `wudi mergekit-yaml` and
 * `wudi-spark merge` each hold one.
 */
public final class MergeArgs {

    /** A command that takes every option of the table: {@link #withOptions} declares them on it. */
    public interface Holder {
        MergeArgs mergeArgs();
    }

    /** Every option of {@link OptionTable} given on the command line, as text, in the order given. */
    private final Map<MergeOption, List<String>> given = new LinkedHashMap<>();

    /** The command the options were declared on (its parse result is the command as typed). */
    private CommandLine.Model.CommandSpec command;

    /** The spec, once {@link #spec()} has built it. */
    private MergeSpec built;

    /**
     * Adds {@link OptionTable}'s options to every merge command under root (merge, plan, mergekit-yaml, a
     * distributed merge), each writing its text into the command's {@link MergeArgs}: the options are declared once,
     * there.
     */
    public static CommandLine withOptions(CommandLine root) {
        if (root.getCommand() instanceof Holder h) {
            h.mergeArgs().declare(root.getCommandSpec());
        }
        root.getSubcommands().values().forEach(MergeArgs::withOptions);
        return root;
    }

    private void declare(CommandLine.Model.CommandSpec spec) {
        command = spec;
        for (MergeOption o : OptionTable.ALL) {
            if (spec.findOption(o.name()) != null) {
                continue;
            }
            OptionSpec.Builder b = OptionSpec.builder(o.names().toArray(String[]::new))
                    .description(o.fullHelp().replace("%", "%%"));
            if (o.flag()) {
                b.arity("0").type(boolean.class).setter(new Setter(o, true));
            } else if (o.repeatable()) {
                b.arity("1").paramLabel(o.label()).type(List.class).auxiliaryTypes(String.class)
                        .setter(new Setter(o, false)).getter(new CommandLine.Model.IGetter() {
                            @Override
                            @SuppressWarnings("unchecked")
                            public <T> T get() {
                                return (T) new ArrayList<>(given.getOrDefault(o, List.of()));
                            }
                        });
            } else {
                b.arity("1").paramLabel(o.label()).type(String.class).setter(new Setter(o, false));
            }
            spec.addOption(b.build());
        }
    }

    /** Where picocli puts an option's value: the text (or texts), into {@link #given}. */
    private final class Setter implements CommandLine.Model.ISetter {
        private final MergeOption option;
        private final boolean flag;

        Setter(MergeOption option, boolean flag) {
            this.option = option;
            this.flag = flag;
        }

        @Override
        public <T> T set(T value) {
            if (value == null) {
                return null;                                // picocli's initial value: nothing given yet
            }
            if (flag) {
                if (Boolean.TRUE.equals(value)) {
                    given.put(option, List.of("true"));
                }
            } else if (value instanceof List<?> l) {
                List<String> texts = new ArrayList<>();
                l.forEach(x -> texts.add(String.valueOf(x)));
                given.put(option, texts);
            } else {
                given.put(option, List.of(String.valueOf(value)));
            }
            return null;
        }
    }

    /** Sets an option's text as if given (for commands that take some as positional parameters). */
    public void give(MergeOption o, String text) {
        given.put(o, List.of(text));
    }

    /** Whether the option was given on the command line. */
    public boolean isGiven(MergeOption o) {
        return given.containsKey(o);
    }

    private String text(MergeOption o) {
        List<String> v = given.get(o);
        return v == null || v.isEmpty() ? null : v.get(v.size() - 1);
    }

    /** --config as given, or null. */
    public Path config() {
        String t = text(OptionTable.CONFIG);
        return t == null ? null : Path.of(t);
    }

    /**
     * The merge as given, every usage mistake of the command line refused (a missing --out, --config with --base):
     * the paths as typed (a remote URI stays one), every other option's text, the command. Without --out (a plan),
     * the output is named after the config, the base or the first model, with ".plan".
     */
    public SpecText text() {
        for (MergeOption o : List.of(OptionTable.OUT, OptionTable.REPORT, OptionTable.REPORT_HTML, OptionTable.CONFIG,
                OptionTable.BASE)) {
            if (text(o) != null && text(o).isBlank()) {
                throw new Errors.UsageException(o.name() + " is empty; give a path");
            }
        }
        String outText = text(OptionTable.OUT);
        if (outText == null && !isGiven(OptionTable.DRY_RUN)) {
            throw new Errors.UsageException("Missing required option: '--out=PATH' (or --dry-run for the plan only)");
        }
        String config = text(OptionTable.CONFIG);
        List<String> models = given.getOrDefault(OptionTable.MODEL, List.of());
        String base = text(OptionTable.BASE);
        if (config != null && (base != null || !models.isEmpty())) {
            throw new Errors.UsageException("--config gives the base and the models; leave out --base and --model (or"
                    + " edit the config)");
        }
        if (config == null && models.isEmpty()) {
            throw new Errors.UsageException("Missing required option: '--model=PATH' (or --config FILE.yml)");
        }
        if (base == null && !isGiven(OptionTable.AS_ADAPTER) && config == null) {
            throw new Errors.UsageException("Missing required option: '--base=PATH' (optional only with --as-adapter)");
        }
        String anchor = config != null ? config : base != null ? base : models.get(0);
        String out = outText != null ? outText : anchor.replaceAll("/+$", "") + ".plan";
        Map<String, List<String>> options = new LinkedHashMap<>();
        given.forEach((o, texts) -> {
            if (o.group() != MergeOption.Group.INPUTS) {
                options.put(o.name(), texts);
            }
        });
        return new SpecText(base, models, out, config, options, commandLine());
    }

    /**
     * The merge's spec from the command line (and the config it names), every check made: a usage mistake is an
     * {@link OptionException} or {@link Errors.UsageException} naming what is wrong.
     */
    public MergeSpec spec() throws IOException {
        if (built == null) {
            built = spec(text());
        }
        return built;
    }

    /**
     * The spec of a merge as text (this command line's, or the same with its paths replaced by local copies): a
     * config's notes, and the settings the command line replaces in it, said in one line each.
     */
    public MergeSpec spec(SpecText text) throws IOException {
        MergeSpec spec = GivenOptions.builder(text, this::say).build();
        String out = text.out();
        if ((out.endsWith("/") || out.endsWith(java.io.File.separator)) && spec.base() != null
                && Files.isRegularFile(spec.base()) && !spec.asAdapterOutput()) {
            // never a folder named like the user meant, holding a file they did not ask for
            throw new Errors.UsageException("--out " + out + " names a folder, but the base " + spec.base()
                    + " is a single file, so the merge is one .safetensors file; give its name, such as "
                    + Path.of(out).resolve("merged.safetensors"));
        }
        return spec;
    }

    /**
     * A line for the user outside the merge's progress: on stderr with "wudi: ", as an "info" event on stdout under
     * --progress json (so a tool reading the events misses nothing), nowhere under -q.
     */
    public void say(String line) {
        if ("json".equals(text(OptionTable.PROGRESS))) {
            JsonProgress.info(System.out, line.startsWith("wudi: ") ? line.substring(6) : line);
        } else if (!isGiven(OptionTable.QUIET)) {
            System.err.println(line.startsWith("wudi: ") ? line : "wudi: " + line);
        }
    }

    /** -q / --quiet, or --progress json: no progress lines on stderr. */
    public boolean quiet() {
        return isGiven(OptionTable.QUIET) || "json".equals(text(OptionTable.PROGRESS));
    }

    /** The command as typed, quoted for a POSIX shell: the model card shows it as the way to reproduce the merge. */
    private String commandLine() {
        List<String> args = new ArrayList<>();
        if (command != null && command.commandLine() != null && command.commandLine().getParseResult() != null) {
            picocli.CommandLine root = command.commandLine();
            while (root.getParent() != null) {
                root = root.getParent();
            }
            args.add(root.getCommandName());                                      // wudi, or wudi-spark
            args.addAll(command.commandLine().getParseResult().originalArgs());   // the subcommand's name included
        } else {
            args.add("wudi");
            args.add("merge");
        }
        List<String> q = new ArrayList<>();
        args.forEach(a -> q.add(ReproduceCommand.quote(a)));
        return String.join(" ", q);
    }
}
