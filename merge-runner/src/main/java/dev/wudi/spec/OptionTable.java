package dev.wudi.spec;

import static dev.wudi.spec.MergeOption.option;

import dev.wudi.method.CoverageRule;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.spectral.SpectralFilter;
import dev.wudi.spec.MergeOption.Applies;
import dev.wudi.spec.MergeOption.Group;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every option of a merge, declared once: `wudi merge` (and `wudi plan`, `wudi mergekit-yaml`, `wudi-spark merge`)
 * take them from here, {@link MergeSpec} checks values and applicability by them for every surface, and the
 * fingerprint, the reproduce command, the report's settings and docs/options.md are written from them.
 */
public final class OptionTable {

    private OptionTable() {
    }

    // ---------------------------------------------------------------- where options apply

    private static Applies wudi() {
        return new Applies(s -> s.method() == MergeMethods.WUDI,
                s -> "applies to --method wudi; the method here is " + s.method().name(), "wudi");
    }

    private static Applies solver(String... names) {
        List<String> ns = List.of(names);
        String spelled = "--solver " + String.join(" or ", ns);
        return wudi().and(new Applies(s -> ns.contains(s.solverName()),
                s -> "applies to " + spelled + (ns.equals(List.of("adam")) ? "; --solver " + s.solverName()
                        + " solves without Adam's steps" : ""), "wudi " + spelled));
    }

    /** Methods with this parameter, named from the registry. */
    private static Applies param(String p) {
        return new Applies(s -> s.method().hasParam(p), s -> "applies to " + MergeMethods.namesWhere(m -> m.hasParam(p))
                + "; the method here is " + s.method().name(), MergeMethods.namesWhere(m -> m.hasParam(p)));
    }

    // ---------------------------------------------------------------- the options

    public static final MergeOption BASE = option("--base").label("PATH").group(Group.INPUTS)
            .help("The pretrained checkpoint W0: a .safetensors file or a Hugging Face folder (required, except with"
                    + " --as-adapter, where LoRA adapters can be merged on their deltas alone).");

    public static final MergeOption MODEL = option("--model").label("PATH").group(Group.INPUTS).repeatable()
            .help("A fine-tuned checkpoint W_i (repeat once per task), or a PEFT LoRA adapter folder"
                    + " (adapter_config.json + adapter_model.safetensors), merged as the fine-tune W_0 + scaling B A.");

    public static final MergeOption CONFIG = option("--config").label("FILE.yml").group(Group.INPUTS)
            .help("A mergekit YAML config (merge_method, base_model, models with parameters, parameters, dtype, ...):"
                    + " it gives the base, the models and the method; options given too override it and say so."
                    + " `wudi mergekit-yaml FILE.yml OUT` is the same with mergekit's spelling.");

    public static final MergeOption OUT = option("--out").label("PATH").group(Group.INPUTS)
            .help("Where the merged checkpoint goes: a file for a file base, a folder for a folder base or an adapter"
                    + " (required, except with --dry-run).");

    public static final MergeOption METHOD = option("--method").label("NAME").group(Group.METHOD).defaultText("wudi")
            .help("The merge method: " + MergeMethods.names() + " (mergekit's spellings too: task_arithmetic, linear,"
                    + " ...); `wudi methods` describes each.");

    public static final MergeOption SCALE = option("--scale").label("S").group(Group.METHOD)
            .defaultFrom(s -> s.scaleAuto() ? "auto" : String.valueOf(s.effectiveScale()))
            .applies(new Applies(s -> s.method().hasParam("scale") || s.rest() == RestPolicy.TASK_ARITHMETIC,
                    s -> "applies to " + MergeMethods.namesWhere(m -> m.hasParam("scale")) + " and --rest"
                            + " task-arithmetic; the method here is " + s.method().name(),
                    MergeMethods.namesWhere(m -> m.hasParam("scale")) + ", --rest task-arithmetic"))
            .help("The coefficient on the (merged) task vector: W0 + S * tau (wudi: 1 is the paper's, no rescaling;"
                    + " the reported loss is tau_m's). wudi also takes auto, the default merge's rule per matrix: "
                    + CoverageRule.SCALE + " x tau_m where the task vectors span at least " + CoverageRule.MIN_COVERAGE
                    + " of the input space, " + CoverageRule.AVERAGE_FRACTION + " x the models' average where they"
                    + " span less (LoRA adapters); it needs"
                    + " --solver spectral. Default: auto for wudi with no solver option, else the method's ("
                    + defaults("scale") + "); --rest task-arithmetic: 0.3.");

    public static final MergeOption DENSITY = option("--density").label("D").group(Group.METHOD)
            .defaultFrom(s -> String.valueOf(s.effectiveDensity()))
            .applies(param("density"))
            .help("The fraction of each task vector kept, in (0, 1]. Default: the method's (" + defaults("density")
                    + ").");

    public static final MergeOption T = option("--t").label("T").group(Group.METHOD).applies(param("t"))
            .help("The interpolation point, 0 the base, 1 the model (required for slerp).");

    public static final MergeOption SEED = option("--seed").label("N").group(Group.METHOD).defaultText("0")
            .applies(new Applies(s -> s.method().random(), s -> "applies to the random methods ("
                    + MergeMethods.namesWhere(MergeMethod::random) + "); the method here is " + s.method().name(),
                    MergeMethods.namesWhere(MergeMethod::random)))
            .help("The seed of the random drops (a config's random_seed). Each draw is keyed by the seed, the tensor"
                    + " and the element, so a merge gives the same bytes on every run and thread count.");

    public static final MergeOption SOLVER = option("--solver").label("NAME").group(Group.SOLVER)
            .defaultFrom(MergeSpec::solverName).applies(wudi()).config("solver")
            .help("With no solver option, the default merge: spectral, then --scale auto and --rest average (chosen on"
                    + " the benchmarks of docs/quality.md, where it beats averaging and task arithmetic x0.3 on every"
                    + " testbed but one, of under-trained adapters). Any solver option gives that solver's own answer at --scale 1 with --rest base;"
                    + " --solver adam is the paper's merge (lr 1e-5, 300 steps). adam (the paper's), exact (the minimiser D (C + ridge I)^+), flow (gradient flow from the sum in"
                    + " closed form), spectral (a filter of C's eigenvalues; with no further options a data-free"
                    + " default). The last three cost one symmetric eigendecomposition per tensor (LAPACK on the CPU,"
                    + " cuSOLVER on the GPU); exact without --ridge runs on the CPU in double whatever the device, with"
                    + " one warning: it divides by C's smallest eigenvalues, which a float32 C does not resolve.");

    public static final MergeOption LR = option("--lr").label("LR").group(Group.SOLVER).defaultText("1e-5")
            .applies(solver("adam")).config("learning_rate", "lr")
            .help("Adam's learning rate (the paper's 1e-5), or auto (per tensor: " + AutoLr.DEFAULT_FACTOR
                    + " x its task-vector RMS; auto:K for K x RMS). Adam's step is absolute: task vectors much larger"
                    + " than CLIP fine-tunes' need more than 1e-5.");

    public static final MergeOption ITERS = option("--iters").label("N").group(Group.SOLVER).defaultText("300")
            .applies(solver("adam")).config("iterations", "iters")
            .help("Adam's steps (the paper's 300; they act as early stopping).");

    public static final MergeOption BETA1 = option("--beta1").label("B").group(Group.SOLVER).defaultText("0.9")
            .applies(solver("adam")).config("beta1").help("Adam's beta1, in [0, 1).");

    public static final MergeOption BETA2 = option("--beta2").label("B").group(Group.SOLVER).defaultText("0.999")
            .applies(solver("adam")).config("beta2").help("Adam's beta2, in [0, 1).");

    public static final MergeOption EPS = option("--eps").label("E").group(Group.SOLVER).defaultText("1e-8")
            .applies(solver("adam")).config("epsilon", "eps").help("Adam's eps, >= 0.");

    public static final MergeOption RIDGE = option("--ridge").label("RHO").group(Group.SOLVER).defaultText("0")
            .applies(solver("exact")).config("ridge").help("The ridge rho >= 0 added to C's eigenvalues.");

    public static final MergeOption FLOW_TIME = option("--flow-time").label("T").group(Group.SOLVER)
            .applies(solver("flow")).config("flow_time")
            .help("The time t of the gradient flow. Default: the data-free rule of --solver spectral.");

    public static final MergeOption FILTER = option("--filter").label("KIND").group(Group.SOLVER)
            .defaultText("exponential").applies(solver("spectral")).config("filter")
            .help("The filter of C's eigenvalues: exponential (= flow), tikhonov or landweber.");

    public static final MergeOption FILTER_PARAM = option("--filter-param").label("P").group(Group.SOLVER)
            .applies(solver("spectral")).config("filter_param")
            .help("The filter's parameter (exponential: time t; tikhonov: rho; landweber: steps k at eta ="
                    + " 1/lambda_max). Default: a data-free rule from C's spectrum.");

    public static final MergeOption CUTOFF = option("--cutoff").label("F").group(Group.SOLVER)
            .applies(solver("spectral", "flow")).config("cutoff")
            .help("Without a filter parameter: the filter's knee at F x the mean nonzero eigenvalue of C (default "
                    + SpectralFilter.DEFAULT_CUTOFF_FRACTION + "; smaller F = closer to the exact minimiser)."
                    + " Scale-free, unlike --filter-param.");

    public static final MergeOption RANK = option("--rank").label("R").group(Group.SOLVER).defaultText("0")
            .applies(solver("spectral")).config("rank")
            .help("Use only the R largest eigenpairs of C (0: all).");

    public static final MergeOption INCLUDE = option("--include").label("REGEX").group(Group.SELECTION).config("include")
            .help("Tensors the method computes (a regex searched in the name); replaces the method's default scope"
                    + " (WUDI: the linear weights of the body; the others: every floating tensor).");

    public static final MergeOption EXCLUDE = option("--exclude").label("REGEX").group(Group.SELECTION).config("exclude")
            .help("Tensors the method never computes (a regex searched in the name); wins over --include.");

    public static final MergeOption REST = option("--rest").label("POLICY").group(Group.SELECTION)
            .defaultFrom(s -> s.rest().cliName()).config("rest")
            .help("Tensors the method does not compute: base (keep W0, as the paper's code), average, or"
                    + " task-arithmetic (with --scale). Default: average for WUDI's default merge, else base.");

    public static final MergeOption LAYOUT = option("--layout").label("REGEX=LAYOUT").group(Group.SELECTION)
            .repeatable()
            .help("Force the layout of tensors whose name the regex finds (repeat; first match wins): out-in"
                    + " (nn.Linear), in-out (Conv1D), experts-out-in, experts-in-out, conv. Default: from config.json's"
                    + " model_type, else name rules; `wudi plan` shows each tensor's layout and why.");

    public static final MergeOption DTYPE = option("--dtype").label("DTYPE").group(Group.OUTPUT)
            .help("Output dtype of floating tensors: f32, f16 or bf16. Default: the base's, tensor by tensor. All"
                    + " arithmetic is float32 whatever the dtype.");

    public static final MergeOption SHARD_SIZE = option("--shard-size").label("SIZE").group(Group.OUTPUT)
            .defaultText("5GB")
            .help("The largest output shard of a folder output (units KB MB GB KiB MiB GiB).");

    public static final MergeOption HEADS = option("--heads").label("POLICY").group(Group.OUTPUT).defaultText("auto")
            .help("Task heads the base lacks or has in another shape (score, classifier, ...): save (each model's"
                    + " heads to OUT/heads/model-K.safetensors with its config, model-K.config.json, and"
                    + " OUT/heads/README.md saying how to load each onto the merged body), drop (left out, named),"
                    + " from:K (the output is model K's class: its heads, its config labels and its tensor names, as"
                    + " transformers loads it). auto: save for a folder output, drop for a file.");

    public static final MergeOption VOCAB = option("--vocab").label("POLICY").group(Group.OUTPUT).defaultText("extend")
            .applies(new Applies(s -> s.config() == null || s.config().tokenizer() == null,
                    s -> "applies where a config gives no tokenizer_source; here " + s.config().tokenizer().describe()
                            + " chooses the vocabulary and the tokenizer (leave out one of them)",
                    "merges without a config's tokenizer_source"))
            .help("Vocabularies grown by added tokens: extend (the output has every added row, each the mean of the"
                    + " models that have it; vocab_size and tokenizer follow) or base (the base's rows and tokenizer"
                    + " only). A config's tokenizer_source decides instead: base is --vocab base, a model's path gives"
                    + " that model's rows and tokenizer.");

    public static final MergeOption CARD = option("--card").label("POLICY").group(Group.OUTPUT).defaultText("auto")
            .help("The README.md model card of a folder output, always the card of this merge: auto (the base's own"
                    + " card, if it has one, quoted at its end under its own heading, its licence carried into the"
                    + " front matter), write (this card alone, the licence still carried), none (no README.md; the"
                    + " base's is not copied either).");

    public static final MergeOption AS_ADAPTER = option("--as-adapter").group(Group.OUTPUT)
            .help("Write the result as a PEFT LoRA adapter folder instead of a full model (every --model must be an"
                    + " adapter). Exact at rank <= the sum of the adapters' ranks for --solver exact, flow and"
                    + " spectral; Adam's and element-wise methods' deltas are truncated by SVD to --adapter-rank, the"
                    + " error of each tensor in the report.");

    public static final MergeOption ADAPTER_RANK = option("--adapter-rank").label("R").group(Group.OUTPUT)
            .applies(new Applies(MergeSpec::asAdapterOutput, s -> "applies to --as-adapter only", "--as-adapter"))
            .help("The rank of deltas truncated by SVD. Default: the sum of the ranks of the adapters that adapt the"
                    + " module.");

    public static final MergeOption INTERFERENCE_LOSS = option("--interference-loss").label("WHEN")
            .group(Group.REPORTS).defaultText("auto").fingerprint()
            .applies(new Applies(s -> s.method() != MergeMethods.WUDI, s -> "applies to methods other than wudi; wudi"
                    + " reports its loss always", "methods other than wudi"))
            .help("Report WUDI's interference loss of the result on the linear weights (at the sum of task vectors"
                    + " before, at the merge after), so the report compares with a WUDI one: auto (when estimated"
                    + " under 20 s at nominal CPU rates), on, off.");

    public static final MergeOption REPORT = option("--report").label("FILE.json").group(Group.REPORTS).run()
            .help("Write what produced the merge (tool, version, inputs, every setting, the command), one record per"
                    + " tensor (name, role, layout, method, shape, loss before and after, seconds, models left out, zero"
                    + " task vectors, what the solver decided) and totals, as JSON.");

    public static final MergeOption REPORT_HTML = option("--report-html").label("FILE.html").group(Group.REPORTS).run()
            .help("Write the report as one self-contained HTML page: per tensor, the loss before and after (bars) and"
                    + " the seconds.");

    public static final MergeOption DEVICE = option("--device").label("DEVICE").group(Group.RUN).run()
            .defaultText("auto")
            .help("Where WUDI runs: auto (the GPU if one is usable, else the CPU with one line saying why), cpu, cuda"
                    + " or cuda:N; or several: cuda:all (every GPU), cuda:0,2 (those), either with ,cpu (the CPU takes"
                    + " tensors too where that shortens the merge). Several devices take tensors largest first; the"
                    + " output is written in order, with one device's bytes for each tensor, and a device that fails"
                    + " hands its tensors to the others (or the CPU, when none is left) with one warning; the JSON"
                    + " report gives each WUDI tensor's device.");

    public static final MergeOption PRECISION = option("--precision").label("P").group(Group.RUN).defaultText("fp32")
            .fingerprint()
            .help("The GPU's per-step GEMM: fp32 (faithful) or tf32 (tensor cores: faster, not bit-faithful; see"
                    + " docs/benchmarks.md for its measured deviation).");

    public static final MergeOption THREADS = option("--threads").label("N").group(Group.RUN).defaultText("0")
            .fingerprint()
            .help("CPU threads for matrix products (0: all cores).");

    public static final MergeOption FORCE = option("--force").group(Group.RUN).run()
            .help("Replace an existing --out (or report) where it is plainly an earlier output of its kind.");

    public static final MergeOption RESUME = option("--resume").group(Group.RUN).run()
            .help("Continue the partial output an interrupted run (Ctrl-C, kill, crash) left for the same --out, if it"
                    + " was made with the same arguments and unchanged inputs; the result is byte-identical to an"
                    + " uninterrupted run. Without it, such a partial output is replaced.");

    public static final MergeOption ALLOW_NONFINITE = option("--allow-nonfinite").group(Group.RUN).run()
            .help("Merge inputs that hold NaN or Inf (each such tensor is warned about), and write results that do,"
                    + " instead of refusing.");

    public static final MergeOption DRY_RUN = option("--dry-run").group(Group.RUN).run()
            .help("Print the plan (every tensor's role, layout, action, and estimated flops, memory and time) and"
                    + " stop; nothing is written. Same as `wudi plan`.");

    public static final MergeOption JSON = option("--json").group(Group.RUN).run()
            .applies(new Applies(MergeSpec::dryRun, s -> "applies to --dry-run / `wudi plan`; use --report FILE.json"
                    + " for a merge", "--dry-run"))
            .help("The plan as one JSON document on stdout.");

    public static final MergeOption PROGRESS = option("--progress").label("MODE").group(Group.RUN).run()
            .defaultText("auto")
            .help("auto (a bar on a terminal; plain lines in a pipe or log, with a status line whenever 8 s pass"
                    + " without one) or json (one JSON object per line on"
                    + " stdout: start, tensor_start, step, tensor_done, warning, info, done, or error / interrupted"
                    + " last; schema in docs/integration.md).");

    public static final MergeOption QUIET = option("-q", "--quiet").group(Group.RUN).run().help("No progress output.");

    /** Every option, in the order help and docs list them. */
    public static final List<MergeOption> ALL = List.of(BASE, MODEL, CONFIG, OUT, METHOD, SCALE, DENSITY, T, SEED,
            SOLVER, LR, ITERS, BETA1, BETA2, EPS, RIDGE, FLOW_TIME, FILTER, FILTER_PARAM, CUTOFF, RANK, INCLUDE,
            EXCLUDE, REST, LAYOUT, DTYPE, SHARD_SIZE, HEADS, VOCAB, CARD, AS_ADAPTER, ADAPTER_RANK, INTERFERENCE_LOSS,
            REPORT, REPORT_HTML, DEVICE, PRECISION, THREADS, FORCE, RESUME, ALLOW_NONFINITE, DRY_RUN, JSON, PROGRESS,
            QUIET);

    private static final Map<String, MergeOption> BY_NAME = byName();

    private static Map<String, MergeOption> byName() {
        Map<String, MergeOption> m = new LinkedHashMap<>();
        for (MergeOption o : ALL) {
            o.names().forEach(n -> m.put(n, o));
        }
        return m;
    }

    /** The option with this name (any of its names), or null. */
    public static MergeOption byName(String name) {
        return BY_NAME.get(name);
    }

    /** The option a mergekit config names so (wudi's learning_rate), or null. */
    public static MergeOption byConfigName(String name) {
        for (MergeOption o : ALL) {
            if (o.configNames().contains(name)) {
                return o;
            }
        }
        return null;
    }

    /** "task-arithmetic 0.3, ties 1.0, ...": each method's default for a parameter. */
    private static String defaults(String param) {
        StringBuilder sb = new StringBuilder();
        for (MergeMethod m : MergeMethods.all()) {
            if (m.hasParam(param) && !Double.isNaN(m.defaultOf(param))) {
                sb.append(sb.length() == 0 ? "" : ", ").append(m.name()).append(' ').append(m.defaultOf(param));
            }
        }
        return sb.toString();
    }
}
