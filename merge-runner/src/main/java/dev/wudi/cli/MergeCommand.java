package dev.wudi.cli;

import dev.wudi.backend.Backend;
import dev.wudi.backend.BackendUnavailableException;
import dev.wudi.backend.Backends;
import dev.wudi.checkpoint.OutputGuard;
import dev.wudi.config.ConfigParameters;
import dev.wudi.merge.Cancellation;
import dev.wudi.merge.CostModel;
import dev.wudi.merge.MergeInterruptedException;
import dev.wudi.merge.MergeListener;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.Merger;
import dev.wudi.merge.ReportPage;
import dev.wudi.merge.StepRate;
import dev.wudi.merge.TensorSelection;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.ParameterSource;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.MergeSpecBuilder;
import dev.wudi.spec.OptionException;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.ReproduceCommand;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.OptionSpec;

@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = {
            "Merge fine-tuned checkpoints of one base model into one checkpoint.",
            "",
            "Inputs are .safetensors files or Hugging Face folders (model.safetensors, or shards with "
                    + "model.safetensors.index.json). The output mirrors the base: a file for a file; a folder "
                    + "(sharded by --shard-size, with the base's config and tokenizer files) for a folder. It is "
                    + "written under a temporary name and renamed only when complete.",
            "",
            "Which tensors the method computes: with no --include, WUDI takes the linear weights of the body "
                    + "(nn.Linear and Conv1D matrices, stacks of expert matrices), not "
                    + TensorSelection.DEFAULT_WUDI_EXCLUDE + "; task-arithmetic, average and ties take every "
                    + "floating tensor. --include REGEX replaces that scope (WUDI then also takes conv weights, as "
                    + "[out, in*k*k]); --exclude REGEX always wins. Everything not selected follows --rest; "
                    + "non-float tensors are copied from the base.",
            "",
            "Real checkpoints: each linear weight is optimised in the paper's [out, in] orientation: GPT-2-family "
                    + "Conv1D weights (stored [in, out]; known from config.json's model_type, else from the shapes "
                    + "of c_attn/c_fc) are optimised transposed, and stacked experts [E, out, in] as E layers "
                    + "(--layout overrides). Fine-tunes saved from another class of the architecture match with or "
                    + "without its prefix (transformer., model., bert., ...). Task heads the base lacks or has in "
                    + "another shape follow --heads; a vocabulary grown by added tokens follows --vocab; an lm_head the "
                    + "base ties to its embeddings is never added. Models whose config.json differs in the body's "
                    + "fields, or whose body tensors differ, are refused. `wudi plan` (or --dry-run) shows all of "
                    + "this per tensor before anything is merged.",
            ""},
        footer = {"", "Examples:",
            // one example per line, each under 76 characters, so no terminal breaks one inside a path
            "  wudi merge --base b.safetensors --model a.safetensors \\",
            "             --model c.safetensors --out merged.safetensors",
            "  wudi merge --base ./llama --model ./math --model ./code --out ./merged \\",
            "             --lr 1e-4 --report r.json",
            "  wudi merge --solver spectral --base ./llama --model ./math \\",
            "             --model ./code --out ./merged",
            "  wudi merge --lr auto --report r.json --report-html r.html \\",
            "             --base ./llama --model ./math --model ./code --out ./merged",
            "  wudi merge --method ties --density 0.2 --base ./llama \\",
            "             --model ./math --model ./code --out ./merged",
            "  wudi merge --config ties.yml --out ./merged     (a mergekit config)",
            "  wudi merge --dry-run --base ./gpt2 --model ./gpt2-sst2 \\",
            "             --model ./gpt2-emotion     (the plan, nothing merged)",
            "", "Environment:",
            "  WUDI_JAVA_OPTS           JVM options for the ./wudi launcher, e.g. -Xmx8g",
            "  WUDI_CPU_ADAM=java       the CPU's Adam pass in Java, not C (same result)",
            "  OPENBLAS_THREAD_TIMEOUT  unset, WUDI sets 4: workers sleep between calls",
            "  WUDI_CUBLAS              path of libcublas if it is not found by itself",
            "  WUDI_CUSOLVER            path of libcusolver if it is not found by itself",
            "  WUDI_DEBUG=1             a stack trace with every error"})
public class MergeCommand implements Callable<Integer> {

    /** Every option of {@link OptionTable} given on the command line, as text, in the order given. */
    private final Map<MergeOption, List<String>> given = new LinkedHashMap<>();

    @picocli.CommandLine.Spec
    protected CommandLine.Model.CommandSpec commandSpec;

    /** The spec, once {@link #options()} has built it. */
    private MergeSpec built;

    /**
     * Adds {@link OptionTable}'s options to every merge command under root (merge, plan, mergekit-yaml, a
     * distributed merge), each writing its text into the command: the options are declared once, there.
     */
    public static CommandLine withOptions(CommandLine root) {
        if (root.getCommand() instanceof MergeCommand m) {
            m.declare(root.getCommandSpec());
        }
        root.getSubcommands().values().forEach(MergeCommand::withOptions);
        return root;
    }

    private void declare(CommandLine.Model.CommandSpec spec) {
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
    protected void give(MergeOption o, String text) {
        given.put(o, List.of(text));
    }

    /** Whether the option was given on the command line. */
    protected boolean isGiven(MergeOption o) {
        return given.containsKey(o);
    }

    private String text(MergeOption o) {
        List<String> v = given.get(o);
        return v == null || v.isEmpty() ? null : v.get(v.size() - 1);
    }

    private Path path(MergeOption o) {
        String t = text(o);
        return t == null ? null : Path.of(t);
    }

    /**
     * The merge's spec from the command line (and the config it names), every check made: a usage mistake is an
     * {@link OptionException} or {@link Errors.UsageException} naming what is wrong. A distributed merge builds the
     * same spec from the same arguments on each executor.
     */
    public MergeSpec options() throws Exception {
        if (built != null) {
            return built;
        }
        for (MergeOption o : List.of(OptionTable.OUT, OptionTable.REPORT, OptionTable.REPORT_HTML, OptionTable.CONFIG,
                OptionTable.BASE)) {
            if (text(o) != null && text(o).isBlank()) {
                throw new Errors.UsageException(o.name() + " is empty; give a path");
            }
        }
        boolean dryRun = isGiven(OptionTable.DRY_RUN);
        String outText = text(OptionTable.OUT);
        if (outText == null && !dryRun) {
            throw new Errors.UsageException("Missing required option: '--out=PATH' (or --dry-run for the plan only)");
        }
        Path config = path(OptionTable.CONFIG);
        List<Path> models = new ArrayList<>();
        given.getOrDefault(OptionTable.MODEL, List.of()).forEach(m -> models.add(Path.of(m)));
        Path base = path(OptionTable.BASE);
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
        Path anchor = config != null ? config : base != null ? base : models.get(0);
        Path out = outText != null ? Path.of(outText) : anchor.resolveSibling(anchor.getFileName() + ".plan");
        MergeSpecBuilder b;
        if (config != null) {
            b = fromConfig(config, out);
        } else {
            b = MergeSpec.builder(base, models, out);
            given.forEach((o, texts) -> {
                if (o.group() != MergeOption.Group.INPUTS) {
                    texts.forEach(t -> b.set(o, t));
                }
            });
        }
        b.command(commandLine());
        MergeSpec spec = b.build();
        if (outText != null && (outText.endsWith("/") || outText.endsWith(java.io.File.separator))
                && spec.base() != null && java.nio.file.Files.isRegularFile(spec.base()) && !spec.asAdapterOutput()) {
            // never a folder named like the user meant, holding a file they did not ask for
            throw new Errors.UsageException("--out " + outText + " names a folder, but the base " + spec.base()
                    + " is a single file, so the merge is one .safetensors file; give its name, such as "
                    + Path.of(outText).resolve("merged.safetensors"));
        }
        built = spec;
        return spec;
    }

    /**
     * The spec a --config stands for, with the options given on the command line applied over it: each one that
     * replaces something the config says is named in one line.
     */
    private MergeSpecBuilder fromConfig(Path config, Path out) throws java.io.IOException {
        dev.wudi.config.ConfigOptions.Result r = dev.wudi.config.ConfigOptions.read(config, out);
        MergeSpecBuilder b = r.builder();
        List<String> overridden = new ArrayList<>();
        ParameterSource params = b.build().parameters();
        List<String> solverOptions = new ArrayList<>();
        for (Map.Entry<MergeOption, List<String>> e : given.entrySet()) {
            MergeOption o = e.getKey();
            if (o.group() == MergeOption.Group.INPUTS) {
                continue;
            }
            boolean replaces = b.isSet(o);
            if (o == OptionTable.SCALE && params instanceof ConfigParameters cp) {
                params = cp.without("lambda");              // the config's lambda, per tensor too
                replaces = true;
            } else if (o == OptionTable.DENSITY && params instanceof ConfigParameters cp) {
                params = cp.without("density");
                replaces = true;
            } else if (o == OptionTable.T && params instanceof ConfigParameters cp) {
                params = cp.withGlobal("t", Double.parseDouble(text(o)));
                replaces = true;
            } else if (o == OptionTable.SEED && params instanceof ConfigParameters cp) {
                params = cp.withSeed(Long.parseLong(text(o).trim()));
                replaces = true;
            }
            if (o == OptionTable.SOLVER || o.group() == MergeOption.Group.SOLVER && !o.configNames().isEmpty()) {
                solverOptions.add(o.name());
            } else if (replaces && o.effect() == MergeOption.Effect.OUTPUT) {
                overridden.add(o.name() + (o == OptionTable.SCALE ? " (the config's lambda)"
                        : o == OptionTable.SEED ? " (the config's random_seed)" : ""));
            }
            b.set(o, null);
            e.getValue().forEach(t -> b.set(o, t));
        }
        if (!solverOptions.isEmpty()) {
            overridden.add(0, String.join(" ", solverOptions));
        }
        b.parameters(params);
        r.notes().forEach(this::say);
        if (!overridden.isEmpty()) {
            say("given on the command line, overriding " + config + ": " + String.join(", ", overridden));
        }
        return b;
    }

    /**
     * A line for the user outside the merge's progress: on stderr with "wudi: ", as an "info" event on stdout under
     * --progress json (so a tool reading the events misses nothing), nowhere under -q.
     */
    void say(String line) {
        if ("json".equals(text(OptionTable.PROGRESS))) {
            JsonProgress.info(System.out, line.startsWith("wudi: ") ? line.substring(6) : line);
        } else if (!isGiven(OptionTable.QUIET)) {
            System.err.println(line.startsWith("wudi: ") ? line : "wudi: " + line);
        }
    }

    /** The --device value given (auto where none). */
    public String device() {
        return built().device();
    }

    /** --precision tf32. */
    public boolean tf32() {
        return built().tf32();
    }

    /** --resume. */
    public boolean resume() {
        return isGiven(OptionTable.RESUME);
    }

    /** --force. */
    public boolean force() {
        return isGiven(OptionTable.FORCE);
    }

    /** --dry-run. */
    public boolean dryRun() {
        return isGiven(OptionTable.DRY_RUN);
    }

    /** --as-adapter. */
    public boolean asAdapter() {
        return isGiven(OptionTable.AS_ADAPTER);
    }

    /** --allow-nonfinite. */
    public boolean allowNonFinite() {
        return isGiven(OptionTable.ALLOW_NONFINITE);
    }

    /** -q / --quiet, or --progress json: no progress lines on stderr. */
    public boolean quiet() {
        return isGiven(OptionTable.QUIET) || "json".equals(text(OptionTable.PROGRESS));
    }

    /** --threads as given (0: every core). */
    public int threads() {
        return built().threads();
    }

    private MergeSpec built() {
        if (built == null) {
            throw new IllegalStateException("options() first");
        }
        return built;
    }

    @Override
    public Integer call() throws Exception {
        MergeSpec options = options();
        boolean quiet = options.quiet();
        if (options.dryRun()) {
            return plan(options, options.tf32());
        }
        if (options.resume() && java.nio.file.Files.exists(options.out())
                && !java.nio.file.Files.exists(dev.wudi.checkpoint.CheckpointWriter.partialPath(options.out()))) {
            say("--resume: " + options.out() + " is complete (no partial output is left); nothing to resume");
            return 0;
        }
        Cancellation cancel = new Cancellation();
        Interrupts interrupts = Interrupts.install(cancel, System.err);
        boolean jsonProgress = options.progressJson();
        try (Backend backend = openBackend(options.tf32());
             Progress progress = new Progress(System.err, quiet || jsonProgress);
             JsonProgress json = jsonProgress ? new JsonProgress(System.out) : null) {
            Merger.Safety safety = new Merger.Safety(options.resume(), options.allowNonFinite(), cancel,
                    alsoWritten(), isGiven(OptionTable.CONFIG) ? List.of(path(OptionTable.CONFIG)) : List.of());
            int cores = options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors();
            String banner = "merging " + options.models().size() + " model" + (options.models().size() == 1 ? "" : "s")
                    + " into " + options.out() + " with " + new Merger(options, backend, null).methodDescription()
                    + " on " + backend.name() + " (" + cores + " CPU thread" + (cores == 1 ? "" : "s") + ")";
            // said once every check has passed (as the merge starts), never before a refusal
            MergeListener listener = new Announcing(jsonProgress ? json : progress, quiet || jsonProgress ? null
                    : () -> System.err.println("wudi: " + banner));
            MergeReport r = execute(options, backend, listener, safety);
            progress.close();
            for (OutputGuard.Target t : reportTargets()) {
                OutputGuard.checkReplaceable(t, options.force());      // as checked before the merge, once more
                if (t.kind() == OutputGuard.Kind.REPORT_JSON) {
                    r.write(t.path());
                } else {
                    ReportPage.write(r, t.path());
                }
            }
            if (jsonProgress) {
                json.done(r);
            } else if (!quiet) {
                System.err.println(Progress.summary(r));
            }
        } catch (MergeInterruptedException e) {
            // a signal stopped the merge: the shutdown hook prints this and the JVM exits 130 (SIGINT) or 143 (SIGTERM)
            if (jsonProgress) {
                JsonProgress.interrupted(System.out, e.getMessage());
            }
            interrupts.stopped(e.getMessage());
            return Interrupts.EXIT_INTERRUPTED;
        } finally {
            interrupts.uninstall();
        }
        return 0;
    }

    /** Every path this command writes besides --out, checked with it before the merge by the same rules. */
    protected List<OutputGuard.Target> alsoWritten() {
        return reportTargets();
    }

    /** --report and --report-html. */
    protected List<OutputGuard.Target> reportTargets() {
        List<OutputGuard.Target> t = new ArrayList<>();
        if (path(OptionTable.REPORT) != null) {
            t.add(new OutputGuard.Target("--report", path(OptionTable.REPORT), OutputGuard.Kind.REPORT_JSON));
        }
        if (path(OptionTable.REPORT_HTML) != null) {
            t.add(new OutputGuard.Target("--report-html", path(OptionTable.REPORT_HTML), OutputGuard.Kind.REPORT_HTML));
        }
        return t;
    }

    /**
     * Runs the merge: {@link Merger#run()} here; a distributed merge computes the method's tensors elsewhere first and
     * writes the output from them ({@link dev.wudi.merge.DistributedMerge}).
     */
    protected MergeReport execute(MergeSpec options, Backend backend, dev.wudi.merge.MergeListener listener,
                                  Merger.Safety safety) throws Exception {
        return new Merger(options, backend, listener, safety).run();
    }

    /** Prints the plan on stdout (text or JSON); nothing is written. */
    private int plan(MergeSpec options, boolean tf32) throws Exception {
        try (Backend backend = openBackend(tf32)) {
            double rate = options.method() == MergeMethods.WUDI ? StepRate.flopsPerSecond(backend) : CostModel.NOMINAL_FLOPS;
            Merger merger = new Merger(options, backend, null);
            String text = merger.plan(p -> {
                PlanPrinter printer = new PlanPrinter(options, p, merger.methodDescription(), backend.name(), rate);
                try {
                    return options.json() ? printer.json() : printer.text();
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            System.out.print(text.endsWith("\n") ? text : text + "\n");
            System.out.flush();
        }
        return 0;
    }

    /** The command as typed, quoted for a POSIX shell: the model card shows it as the way to reproduce the merge. */
    private String commandLine() {
        List<String> args = new ArrayList<>();
        args.add("wudi");
        if (commandSpec != null && commandSpec.commandLine() != null
                && commandSpec.commandLine().getParseResult() != null) {
            args.addAll(commandSpec.commandLine().getParseResult().originalArgs());   // the subcommand's name included
        } else {
            args.add("merge");
        }
        List<String> q = new ArrayList<>();
        args.forEach(a -> q.add(ReproduceCommand.quote(a)));
        return String.join(" ", q);
    }

    /** A native library that will not load is one line for the user, never a crash. */
    private Backend openBackend(boolean tf32) {
        String device = built().device();
        try {
            return Backends.select(device, built().threads(), tf32, this::say);
        } catch (LinkageError e) {
            throw new BackendUnavailableException("device " + device + ": a native library failed to load (" + e
                    + "); pass --device cpu", e);
        }
    }

    /** A listener that says one line before the merge's first event (once the checks have passed). */
    private static final class Announcing implements MergeListener {
        private final MergeListener to;
        private Runnable first;

        Announcing(MergeListener to, Runnable first) {
            this.to = to;
            this.first = first;
        }

        private void announce() {
            if (first != null) {
                Runnable r = first;
                first = null;
                r.run();
            }
        }

        @Override
        public void started(int tensors, int optimised, long totalWork) {
            announce();
            to.started(tensors, optimised, totalWork);
        }

        @Override
        public void scoring(int tensors) {
            to.scoring(tensors);
        }

        @Override
        public void tensorStarted(int index, String name, String method, long work) {
            announce();
            to.tensorStarted(index, name, method, work);
        }

        @Override
        public void tensorStarted(int index, String name, String method) {
            announce();
            to.tensorStarted(index, name, method);
        }

        @Override
        public void step(int t, int of) {
            to.step(t, of);
        }

        @Override
        public void tensorDone(dev.wudi.merge.TensorRecord record, long work) {
            to.tensorDone(record, work);
        }

        @Override
        public void warning(String message) {
            to.warning(message);
        }

        @Override
        public void info(String message) {
            to.info(message);
        }
    }
}
