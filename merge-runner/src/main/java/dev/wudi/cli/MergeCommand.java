package dev.wudi.cli;

import dev.wudi.backend.Backend;
import dev.wudi.backend.BackendUnavailableException;
import dev.wudi.backend.Backends;
import dev.wudi.backend.cuda.Precision;
import dev.wudi.checkpoint.OutputGuard;
import dev.wudi.format.DType;
import dev.wudi.merge.Cancellation;
import dev.wudi.spec.CardPolicy;
import dev.wudi.merge.CostModel;
import dev.wudi.spec.HeadPolicy;
import dev.wudi.merge.ReproduceCommand;
import dev.wudi.merge.StepRate;
import dev.wudi.spec.VocabPolicy;
import dev.wudi.model.LayoutOverride;
import dev.wudi.merge.MergeInterruptedException;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.Merger;
import dev.wudi.spec.ParameterRange;
import dev.wudi.spec.RestPolicy;
import dev.wudi.merge.TensorSelection;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.merge.ReportPage;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralFilter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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

    @Option(names = "--base", paramLabel = "PATH", description = "The pretrained checkpoint W0 (required, except with"
            + " --as-adapter, where LoRA adapters can be merged on their deltas alone).")
    Path base;

    @Option(names = "--config", paramLabel = "FILE.yml",
            description = "A mergekit YAML config (merge_method, base_model, models with parameters, parameters,"
                    + " dtype, ...): it gives the base, the models and the method; options given too override it and"
                    + " say so. `wudi mergekit-yaml FILE.yml OUT` is the same with mergekit's spelling.")
    Path config;

    @Option(names = "--model", paramLabel = "PATH",
            description = "A fine-tuned checkpoint W_i (repeat once per task), or a PEFT LoRA adapter folder"
                    + " (adapter_config.json + adapter_model.safetensors), merged as the fine-tune W_0 + scaling B A.")
    List<Path> models;

    Path out;
    /** --out as typed: a trailing slash names a folder, which Path.of drops. */
    String outText;

    @Option(names = "--out", paramLabel = "PATH",
            description = "Where the merged checkpoint goes (required, except with --dry-run).")
    void out(String text) {
        out = Path.of(text);
        outText = text;
    }

    @Option(names = "--method", paramLabel = "NAME", defaultValue = "wudi",
            description = "wudi, task-arithmetic, average, ties, dare-linear, dare-ties, breadcrumbs, breadcrumbs-ties,"
                    + " della, della-linear, slerp, nuslerp, model-stock (mergekit's spellings too: task_arithmetic,"
                    + " linear, ...; default:"
                    + " ${DEFAULT-VALUE}); see `wudi methods`.")
    String method;

    @Option(names = "--solver", paramLabel = "NAME", defaultValue = "adam",
            description = "WUDI: adam (default, the paper's), exact (the minimiser D (C + ridge I)^+), flow (gradient"
                    + " flow from the sum in closed form), spectral (a filter of C's eigenvalues; with no further"
                    + " options a data-free default). The last three use one eigendecomposition per tensor; exact"
                    + " without --ridge runs on the CPU in double whatever the device (it divides by C's smallest"
                    + " eigenvalues).")
    String solver;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "1e-5",
            description = "WUDI: Adam learning rate (default: ${DEFAULT-VALUE}, the paper's), or auto (per tensor: "
                    + AutoLr.DEFAULT_FACTOR + " x its task-vector RMS; auto:K for K x RMS). Adam's step is absolute:"
                    + " task vectors much larger than CLIP fine-tunes' need more than 1e-5.")
    String lr;

    @Option(names = "--iters", paramLabel = "N", defaultValue = "300",
            description = "WUDI: Adam iterations (default: ${DEFAULT-VALUE}, the paper's; they act as early stopping).")
    int iters;

    @Option(names = "--ridge", paramLabel = "RHO", defaultValue = "0",
            description = "--solver exact: ridge rho >= 0 added to C's eigenvalues (default: ${DEFAULT-VALUE}).")
    double ridge;

    @Option(names = "--flow-time", paramLabel = "T",
            description = "--solver flow: the time t of the gradient flow (default: the data-free rule of --solver spectral).")
    Double flowTime;

    @Option(names = "--filter", paramLabel = "KIND", defaultValue = "exponential",
            description = "--solver spectral: exponential (= flow), tikhonov or landweber (default: ${DEFAULT-VALUE}).")
    String filter;

    @Option(names = "--filter-param", paramLabel = "P",
            description = "--solver spectral: the filter's parameter (exponential: time t; tikhonov: rho;"
                    + " landweber: steps k at eta = 1/lambda_max). Default: a data-free rule from C's spectrum.")
    Double filterParam;

    @Option(names = "--cutoff", paramLabel = "F",
            description = "--solver spectral/flow without a parameter: place the filter's knee at F x the mean nonzero"
                    + " eigenvalue of C (default: " + SpectralFilter.DEFAULT_CUTOFF_FRACTION + "; smaller F = closer to"
                    + " the exact minimiser). Scale-free, unlike --filter-param.")
    Double cutoff;

    @Option(names = "--rank", paramLabel = "R", defaultValue = "0",
            description = "--solver spectral: use only the R largest eigenpairs of C (default: ${DEFAULT-VALUE} = all).")
    int rank;

    @Option(names = "--beta1", paramLabel = "B", defaultValue = "0.9", description = "WUDI: Adam beta1 (default: ${DEFAULT-VALUE}).")
    float beta1;

    @Option(names = "--beta2", paramLabel = "B", defaultValue = "0.999", description = "WUDI: Adam beta2 (default: ${DEFAULT-VALUE}).")
    float beta2;

    @Option(names = "--eps", paramLabel = "E", defaultValue = "1e-8", description = "WUDI: Adam eps (default: ${DEFAULT-VALUE}).")
    float eps;

    @Option(names = "--scale", paramLabel = "S",
            description = "task-arithmetic (default 0.3), ties (default 1.0) and --rest task-arithmetic (default 0.3):"
                    + " coefficient on the task vectors.")
    Double scale;

    @Option(names = "--density", paramLabel = "D",
            description = "ties: fraction of each task vector's largest magnitudes kept (default 0.2).")
    Double density;

    @Option(names = "--include", paramLabel = "REGEX", converter = Converters.Regex.class,
            description = "Tensors the method computes (regex searched in the name); replaces the default scope.")
    Pattern include;

    @Option(names = "--exclude", paramLabel = "REGEX", converter = Converters.Regex.class,
            description = "Tensors the method never computes (regex searched in the name).")
    Pattern exclude;

    @Option(names = "--rest", paramLabel = "POLICY", defaultValue = "base", converter = Converters.Rest.class,
            description = "Tensors the method does not compute: base (keep W0, as the official code),"
                    + " average, or task-arithmetic (with --scale). Default: ${DEFAULT-VALUE}.")
    RestPolicy rest;

    @Option(names = "--layout", paramLabel = "REGEX=LAYOUT",
            description = "Force the layout of tensors whose name the regex finds (repeat; first match wins): out-in"
                    + " (nn.Linear), in-out (Conv1D), experts-out-in, experts-in-out, conv. Default: from config.json's"
                    + " model_type, else name rules; `wudi plan` shows each tensor's layout and why.")
    List<String> layouts;

    @Option(names = "--heads", paramLabel = "POLICY", defaultValue = "auto",
            description = "Task heads the base lacks or has in another shape (score, classifier, ...): save (each"
                    + " model's heads to OUT/heads/model-K.safetensors, to use with the merged body), drop (left"
                    + " out, named), from:K (the output takes model K's heads and config labels). auto: save for a"
                    + " folder output, drop for a file. Default: ${DEFAULT-VALUE}.")
    String heads;

    @Option(names = "--vocab", paramLabel = "POLICY", defaultValue = "extend",
            description = "Vocabularies grown by added tokens: extend (the output has every added row, each the mean"
                    + " of the models that have it; vocab_size and tokenizer follow) or base (the base's rows only)."
                    + " Default: ${DEFAULT-VALUE}.")
    String vocab;

    @Option(names = "--interference-loss", paramLabel = "WHEN", defaultValue = "auto",
            description = "For a method other than wudi: report WUDI's interference loss of its result on the linear"
                    + " weights (at the sum of task vectors before, at the merge after), so its report compares with a"
                    + " WUDI one: auto (when estimated under 20 s at nominal CPU rates), on, off. Default:"
                    + " ${DEFAULT-VALUE}.")
    String interferenceLoss;

    @Option(names = "--card", paramLabel = "POLICY", defaultValue = "auto",
            description = "README.md model card of a folder output: auto (written unless the base has one), write"
                    + " (also over the base's), none. Default: ${DEFAULT-VALUE}.")
    String card;

    @Option(names = "--t", paramLabel = "T",
            description = "slerp: the interpolation point, 0 the base, 1 the model (required for slerp).")
    Double t;

    @Option(names = "--seed", paramLabel = "N",
            description = "Seed of the random methods (dare-linear, dare-ties, della, della-linear; a config's"
                    + " random_seed). Each draw is keyed by the seed, the tensor and the element, so a merge gives the"
                    + " same bytes on every run and thread count. Default: 0.")
    Long seed;

    @Option(names = "--as-adapter",
            description = "Write the result as a PEFT LoRA adapter folder instead of a full model (every --model must"
                    + " be an adapter). Exact at rank <= the sum of the adapters' ranks for --solver exact, flow and"
                    + " spectral; Adam's and element-wise methods' deltas are truncated by SVD to --adapter-rank, the"
                    + " error of each tensor in the report.")
    boolean asAdapter;

    @Option(names = "--adapter-rank", paramLabel = "R",
            description = "With --as-adapter: the rank of deltas truncated by SVD (default: the sum of the ranks of the"
                    + " adapters that adapt the module).")
    Integer adapterRank;

    @Option(names = "--dry-run",
            description = "Print the plan (every tensor's role, layout, action, and estimated flops, memory and time)"
                    + " and stop; nothing is written. Same as `wudi plan`.")
    boolean dryRun;

    @Option(names = "--json", description = "With --dry-run / `wudi plan`: the plan as JSON on stdout.")
    boolean json;

    @Option(names = "--dtype", paramLabel = "DTYPE", converter = Converters.OutDType.class,
            description = "Output dtype of floating tensors: f32, f16 or bf16 (default: the base's, tensor by tensor)."
                    + " All arithmetic is float32 whatever the dtype.")
    DType dtype;

    @Option(names = "--shard-size", paramLabel = "SIZE", defaultValue = "5GB", converter = Converters.Size.class,
            description = "Largest output shard for a folder output (default: ${DEFAULT-VALUE}; units KB MB GB KiB MiB GiB).")
    long shardSize;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto",
            description = "Where WUDI runs: auto (the GPU if one is usable, else the CPU with one line saying why),"
                    + " cpu, cuda or cuda:N; or several: cuda:all (every GPU), cuda:0,2 (those), either with ,cpu"
                    + " (the CPU takes tensors too where that shortens the merge). Several devices take tensors"
                    + " largest first; the output is written in order, with one device's bytes for each tensor, and a"
                    + " device that fails hands its tensors to the others with one warning. Default: ${DEFAULT-VALUE}.")
    String device;

    @Option(names = "--precision", paramLabel = "P", defaultValue = "fp32",
            description = "GPU per-step GEMM: fp32 (faithful, default) or tf32 (tensor cores: faster, not"
                    + " bit-faithful; see docs/benchmarks.md for its measured deviation).")
    String precision;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "CPU threads for matrix products (default: all cores).")
    int threads;

    @Option(names = "--force", description = "Replace an existing --out.")
    boolean force;

    @Option(names = "--resume",
            description = "Continue the partial output an interrupted run (Ctrl-C, kill, crash) left for the same --out,"
                    + " if it was made with the same arguments and unchanged inputs; the result is byte-identical"
                    + " to an uninterrupted run. Without it, such a partial output is replaced.")
    boolean resume;

    @Option(names = "--allow-nonfinite",
            description = "Merge inputs that hold NaN or Inf (each such tensor is warned about) instead of refusing.")
    boolean allowNonFinite;

    @Option(names = "--report", paramLabel = "FILE.json",
            description = "Write one record per tensor (name, method, shape, loss before/after, seconds) and totals.")
    Path report;

    @Option(names = "--report-html", paramLabel = "FILE.html",
            description = "Write the report rendered as a self-contained HTML page: per-tensor loss before and after"
                    + " (bars) and seconds per tensor.")
    Path reportHtml;

    @Option(names = "--progress", paramLabel = "MODE", defaultValue = "auto",
            description = "auto (a bar on a terminal, plain lines in a pipe or log) or json (one JSON object per line on"
                    + " stdout: start, tensor_start, step, tensor_done, warning, info, done, or error / interrupted last;"
                    + " schema in docs/integration.md).")
    String progressMode;

    @Option(names = {"-q", "--quiet"}, description = "No progress output.")
    boolean quiet;

    @picocli.CommandLine.Spec
    protected picocli.CommandLine.Model.CommandSpec spec;

    /** --precision tf32, as {@link #options()} parsed it. */
    private boolean tf32;

    /**
     * The merge's options from the command line, every usage check made (a {@link Errors.UsageException} names what is
     * wrong). A distributed merge builds the same options from the same arguments on each executor.
     */
    public MergeSpec options() throws Exception {
        if (out == null && !dryRun) {
            throw new Errors.UsageException("Missing required option: '--out=PATH' (or --dry-run for the plan only)");
        }
        for (Object[] given : new Object[][] {{"--out", outText}, {"--report", report}, {"--report-html", reportHtml},
            {"--config", config}}) {
            if (given[1] != null && given[1].toString().isBlank()) {
                throw new Errors.UsageException(given[0] + " is empty; give a path");
            }
        }
        if (!progressMode.equals("auto") && !progressMode.equals("json")) {
            throw new Errors.UsageException("--progress takes auto or json, not " + progressMode);
        }
        if (json && !dryRun) {
            throw new Errors.UsageException("--json applies to --dry-run / `wudi plan`; use --report FILE.json for a merge");
        }
        MergeMethod m;
        AdamConfig adam;
        AutoLr autoLr;
        SolverSpec solverSpec;
        try {
            m = MergeMethods.byName(method);
            autoLr = AutoLr.parse(lr);
            float fixedLr = autoLr != null ? AdamConfig.PAPER_LR : parseLr(lr);
            adam = new AdamConfig(fixedLr, beta1, beta2, eps, iters);
            solverSpec = solverSpec(adam);
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage());
        }
        if (autoLr != null && !(solverSpec instanceof SolverSpec.Adam)) {
            throw new Errors.UsageException("--lr auto applies to --solver adam only");
        }
        String misplaced = misplacedSolverOption();
        if (misplaced != null) {
            throw new Errors.UsageException(misplaced);
        }
        if (threads < 0) {
            throw new Errors.UsageException("--threads must be >= 0 (0 = all cores)");
        }
        if (density != null && ParameterRange.DENSITY.problem(density) != null) {
            throw new Errors.UsageException("--density " + ParameterRange.DENSITY.problem(density) + ", got " + density);
        }
        if (scale != null && ParameterRange.FINITE.problem(scale) != null) {
            throw new Errors.UsageException("--scale " + ParameterRange.FINITE.problem(scale) + ", got " + scale);
        }
        if (t != null && ParameterRange.FINITE.problem(t) != null) {
            throw new Errors.UsageException("--t " + ParameterRange.FINITE.problem(t) + ", got " + t);
        }
        try {
            tf32 = Precision.parse(precision) == Precision.TF32;
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage());
        }
        List<LayoutOverride> layoutOverrides = new java.util.ArrayList<>();
        HeadPolicy headPolicy;
        VocabPolicy vocabPolicy;
        CardPolicy cardPolicy;
        dev.wudi.spec.LossScoring lossScoring;
        try {
            if (layouts != null) {
                for (String l : layouts) {
                    layoutOverrides.add(LayoutOverride.parse(l));
                }
            }
            headPolicy = HeadPolicy.parse(heads);
            vocabPolicy = VocabPolicy.parse(vocab);
            cardPolicy = CardPolicy.parse(card);
            lossScoring = dev.wudi.spec.LossScoring.parse(interferenceLoss);
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage());
        }
        if (config != null && (base != null || (models != null && !models.isEmpty()))) {
            throw new Errors.UsageException("--config gives the base and the models; leave out --base and --model (or"
                    + " edit the config)");
        }
        if (config == null && (models == null || models.isEmpty())) {
            throw new Errors.UsageException("Missing required option: '--model=PATH' (or --config FILE.yml)");
        }
        if (base == null && !asAdapter && config == null) {
            throw new Errors.UsageException("Missing required option: '--base=PATH' (optional only with --as-adapter)");
        }
        if (resume && asAdapter) {
            throw new Errors.UsageException("--resume does not apply to --as-adapter: an adapter is written at the end,"
                    + " so an interrupted adapter merge leaves nothing to resume");
        }
        if (adapterRank != null && (!asAdapter || adapterRank < 1)) {
            throw new Errors.UsageException(asAdapter ? "--adapter-rank must be >= 1, got " + adapterRank
                    : "--adapter-rank applies to --as-adapter only");
        }
        Path anchor = config != null ? config : base != null ? base : models.get(0);
        Path outPath = out != null ? out : anchor.resolveSibling(anchor.getFileName() + ".plan");
        dev.wudi.spec.AdapterOptions adapterOptions = asAdapter
                ? new dev.wudi.spec.AdapterOptions(adapterRank == null ? 0 : adapterRank) : null;
        MergeSpec options;
        if (config != null) {
            options = fromConfig(outPath, m, adam, solverSpec, autoLr, layoutOverrides, headPolicy, vocabPolicy,
                    cardPolicy, adapterOptions).toBuilder().lossScoring(lossScoring).build();
        } else {
            java.util.Map<String, Double> globals = new java.util.LinkedHashMap<>();
            if (t != null) {
                globals.put("t", t);
            }
            options = MergeSpec.builder(base, models, outPath).method(m).scale(scale).density(density)
                    .parameters(seed == null && globals.isEmpty() ? dev.wudi.method.ParameterSource.NONE
                            : new dev.wudi.method.FixedParameters(globals, seed == null ? 0 : seed))
                    .adam(adam).include(include).exclude(exclude).rest(rest).outDType(dtype).shardBytes(shardSize)
                    .threads(threads).force(force).solver(solverSpec).autoLr(autoLr).layouts(layoutOverrides)
                    .heads(headPolicy).vocab(vocabPolicy).card(cardPolicy).command(commandLine())
                    .asAdapter(adapterOptions).lossScoring(lossScoring).build();
        }
        String notApplicable = notApplicable(options);
        if (notApplicable != null) {
            throw new Errors.UsageException(notApplicable);
        }
        if (outText != null && (outText.endsWith("/") || outText.endsWith(java.io.File.separator))
                && options.base() != null && java.nio.file.Files.isRegularFile(options.base())
                && options.asAdapter() == null) {
            // never a folder named like the user meant, holding a file they did not ask for
            throw new Errors.UsageException("--out " + outText + " names a folder, but the base " + options.base()
                    + " is a single file, so the merge is one .safetensors file; give its name, such as "
                    + Path.of(outText).resolve("merged.safetensors"));
        }
        return options;
    }

    /** The --device value given. */
    public String device() {
        return device;
    }

    /** --precision tf32, once {@link #options()} has parsed it. */
    public boolean tf32() {
        return tf32;
    }

    /** --resume. */
    public boolean resume() {
        return resume;
    }

    /** --force. */
    public boolean force() {
        return force;
    }

    /** --dry-run. */
    public boolean dryRun() {
        return dryRun;
    }

    /** --as-adapter. */
    public boolean asAdapter() {
        return asAdapter;
    }

    /** --allow-nonfinite. */
    public boolean allowNonFinite() {
        return allowNonFinite;
    }

    /** -q / --quiet, or --progress json: no progress lines on stderr. */
    public boolean quiet() {
        return quiet || "json".equals(progressMode);
    }

    /** --threads as given (0: every core). */
    public int threads() {
        return threads;
    }

    @Override
    public Integer call() throws Exception {
        MergeSpec options = options();

        if (dryRun) {
            return plan(options, tf32);
        }
        if (resume && java.nio.file.Files.exists(options.out())
                && !java.nio.file.Files.exists(dev.wudi.checkpoint.CheckpointWriter.partialPath(options.out()))) {
            if (!quiet) {
                System.err.println("wudi: --resume: " + options.out() + " is complete (no partial output is left);"
                        + " nothing to resume");
            }
            return 0;
        }
        Cancellation cancel = new Cancellation();
        Interrupts interrupts = Interrupts.install(cancel, System.err);
        boolean jsonProgress = "json".equals(progressMode);
        try (Backend backend = openBackend(tf32);
             Progress progress = new Progress(System.err, quiet || jsonProgress);
             JsonProgress json = jsonProgress ? new JsonProgress(System.out) : null) {
            Merger merger = new Merger(options, backend, jsonProgress ? json : progress,
                    new Merger.Safety(resume, allowNonFinite, cancel, alsoWritten(), config == null ? List.of()
                            : List.of(config)));
            if (!quiet && !jsonProgress) {
                int cores = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
                System.err.println("wudi: merging " + options.models().size() + " model"
                        + (options.models().size() == 1 ? "" : "s") + " into " + options.out() + " with "
                        + merger.methodDescription() + " on " + backend.name() + " (" + cores + " CPU thread"
                        + (cores == 1 ? "" : "s") + ")");
            }
            MergeReport r = execute(merger, options);
            progress.close();
            for (OutputGuard.Target t : reportTargets()) {
                OutputGuard.checkReplaceable(t, force);      // as checked before the merge, once more
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
        List<OutputGuard.Target> t = new java.util.ArrayList<>();
        if (report != null) {
            t.add(new OutputGuard.Target("--report", report, OutputGuard.Kind.REPORT_JSON));
        }
        if (reportHtml != null) {
            t.add(new OutputGuard.Target("--report-html", reportHtml, OutputGuard.Kind.REPORT_HTML));
        }
        return t;
    }

    /**
     * Runs the merge: {@link Merger#run()} here; a distributed merge computes the method's tensors elsewhere first and
     * then runs the same merger on them ({@link Merger#withPrecomputed}).
     */
    protected MergeReport execute(Merger merger, MergeSpec options) throws Exception {
        return merger.run();
    }

    /** Prints the plan on stdout (text or JSON); nothing is written. */
    private int plan(MergeSpec options, boolean tf32) throws Exception {
        try (Backend backend = openBackend(tf32)) {
            double rate = options.method() == MergeMethods.WUDI ? StepRate.flopsPerSecond(backend) : CostModel.NOMINAL_FLOPS;
            Merger merger = new Merger(options, backend, null);
            String text = merger.plan(p -> {
                PlanPrinter printer = new PlanPrinter(options, p, merger.methodDescription(), backend.name(), rate);
                try {
                    return json ? printer.json() : printer.text();
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
    /**
     * The options a --config stands for, with the options given on the command line applied over it: each one that
     * replaces something the config says is named in one line.
     */
    private MergeSpec fromConfig(Path outPath, MergeMethod m, AdamConfig adam, SolverSpec solverSpec, AutoLr autoLr,
                                    List<LayoutOverride> layoutOverrides, HeadPolicy headPolicy, VocabPolicy vocabPolicy,
                                    CardPolicy cardPolicy, dev.wudi.spec.AdapterOptions adapterOptions)
            throws java.io.IOException {
        dev.wudi.config.ConfigOptions.Result r = dev.wudi.config.ConfigOptions.read(config, outPath);
        MergeSpec.Builder b = r.builder();
        MergeSpec fromFile = b.build();
        List<String> overridden = new java.util.ArrayList<>();
        if (matched("--method")) {
            b.method(m);
            overridden.add("--method " + method);
        }
        List<String> solverOptions = new java.util.ArrayList<>();
        for (String o : new String[] {"--solver", "--lr", "--iters", "--beta1", "--beta2", "--eps", "--ridge",
            "--flow-time", "--filter", "--filter-param", "--rank", "--cutoff"}) {
            if (matched(o)) {
                solverOptions.add(o);
            }
        }
        if (!solverOptions.isEmpty()) {
            b.solver(solverSpec).adam(adam).autoLr(autoLr);
            overridden.add(String.join(" ", solverOptions));
        }
        dev.wudi.method.ParameterSource params = fromFile.parameters();
        if (matched("--scale")) {
            b.scale(scale);
            params = params instanceof dev.wudi.config.ConfigParameters cp ? cp.without("lambda") : params;
            overridden.add("--scale (the config's lambda)");
        }
        if (matched("--density")) {
            b.density(density);
            params = params instanceof dev.wudi.config.ConfigParameters cp ? cp.without("density") : params;
            overridden.add("--density");
        }
        if (matched("--t") && params instanceof dev.wudi.config.ConfigParameters cp) {
            params = cp.withGlobal("t", t);
            overridden.add("--t");
        }
        if (matched("--seed") && params instanceof dev.wudi.config.ConfigParameters cp) {
            params = cp.withSeed(seed);
            overridden.add("--seed (the config's random_seed)");
        }
        b.parameters(params);
        if (matched("--dtype")) {
            b.outDType(dtype);
            overridden.add("--dtype");
        }
        if (matched("--include")) {
            b.include(include);
            overridden.add("--include");
        }
        if (matched("--exclude")) {
            b.exclude(exclude);
            overridden.add("--exclude");
        }
        if (matched("--rest")) {
            b.rest(rest);
            overridden.add("--rest");
        }
        b.shardBytes(shardSize).threads(threads).force(force).layouts(layoutOverrides).heads(headPolicy)
                .vocab(vocabPolicy).card(cardPolicy).command(commandLine()).asAdapter(adapterOptions);
        if (!quiet) {
            r.notes().forEach(n -> System.err.println("wudi: " + n));
            if (!overridden.isEmpty()) {
                System.err.println("wudi: given on the command line, overriding " + config + ": "
                        + String.join(", ", overridden));
            }
        }
        return b.build();
    }

    private boolean matched(String option) {
        return spec != null && spec.commandLine() != null && spec.commandLine().getParseResult() != null
                && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    private String commandLine() {
        List<String> args = new java.util.ArrayList<>();
        args.add("wudi");
        if (spec != null && spec.commandLine() != null && spec.commandLine().getParseResult() != null) {
            args.addAll(spec.commandLine().getParseResult().originalArgs());   // the subcommand's name included
        } else {
            args.add("merge");
        }
        List<String> q = new java.util.ArrayList<>();
        args.forEach(a -> q.add(ReproduceCommand.quote(a)));
        return String.join(" ", q);
    }

    /** A native library that will not load is one line for the user, never a crash. */
    private Backend openBackend(boolean tf32) {
        try {
            return Backends.select(device, threads, tf32, quiet ? line -> { } : System.err::println);
        } catch (LinkageError e) {
            throw new BackendUnavailableException("device " + device + ": a native library failed to load (" + e
                    + "); pass --device cpu", e);
        }
    }

    /**
     * An option given on the command line that the merge's method or solver does not read, which would otherwise be
     * silently ignored: named with what it applies to. Checked against the final options (a config's method too).
     */
    private String notApplicable(MergeSpec o) {
        dev.wudi.method.MergeMethod method = o.method();
        boolean wudi = method == MergeMethods.WUDI;
        for (String opt : new String[] {"--solver", "--lr", "--iters", "--beta1", "--beta2", "--eps", "--ridge",
            "--flow-time", "--filter", "--filter-param", "--rank", "--cutoff"}) {
            if (matched(opt) && !wudi) {
                return opt + " applies to --method wudi; the method here is " + method.name();
            }
        }
        if (wudi && !(o.effectiveSolver() instanceof SolverSpec.Adam)) {
            for (String opt : new String[] {"--lr", "--iters", "--beta1", "--beta2", "--eps"}) {
                if (matched(opt)) {
                    return opt + " applies to --solver adam; --solver " + o.effectiveSolver().name()
                            + " solves without Adam's steps";
                }
            }
        }
        for (String param : new String[] {"density", "t"}) {
            if (matched("--" + param) && !method.hasParam(param)) {
                return "--" + param + " applies to " + MergeMethods.namesWhere(m -> m.hasParam(param))
                        + "; the method here is " + method.name();
            }
        }
        if (matched("--scale") && !method.hasParam("scale") && o.rest() != RestPolicy.TASK_ARITHMETIC) {
            return "--scale applies to " + MergeMethods.namesWhere(m -> m.hasParam("scale")) + " and --rest"
                    + " task-arithmetic; the method here is " + method.name();
        }
        boolean random = method.random();
        if (matched("--interference-loss") && wudi) {
            return "--interference-loss applies to methods other than wudi; wudi reports its loss always";
        }
        if (matched("--seed") && !random) {
            return "--seed applies to the random methods (" + MergeMethods.namesWhere(MergeMethod::random) + "); the"
                    + " method here is " + method.name();
        }
        return null;
    }

    /** A solver option given with a solver that does not read it (it would be silently ignored). */
    private String misplacedSolverOption() {
        String sv = solver.trim().toLowerCase(java.util.Locale.ROOT);
        if (ridge != 0 && !sv.equals("exact")) {
            return "--ridge applies to --solver exact";
        }
        if (flowTime != null && !sv.equals("flow")) {
            return "--flow-time applies to --solver flow";
        }
        if ((filterParam != null || rank != 0) && !sv.equals("spectral")) {
            return (filterParam != null ? "--filter-param" : "--rank") + " applies to --solver spectral";
        }
        if (cutoff != null && !(sv.equals("spectral") || sv.equals("flow"))) {
            return "--cutoff applies to --solver spectral or flow";
        }
        return null;
    }

    private static float parseLr(String s) {
        try {
            return Float.parseFloat(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--lr " + s + " is neither a number nor auto / auto:FACTOR");
        }
    }

    /** The solver --solver and its options name. */
    SolverSpec solverSpec(AdamConfig adam) {
        switch (solver.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "adam":
                return new SolverSpec.Adam(adam);
            case "exact":
                return new SolverSpec.Exact(ridge);
            case "flow":
                if (flowTime == null && cutoff != null) {
                    return new SolverSpec.Spectral(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0, cutoff);
                }
                return new SolverSpec.Flow(flowTime == null ? Double.NaN : flowTime);
            case "spectral":
                return new SolverSpec.Spectral(SpectralFilter.Kind.parse(filter),
                        filterParam == null ? Double.NaN : filterParam, rank, cutoff == null ? Double.NaN : cutoff);
            default:
                throw new IllegalArgumentException("unknown --solver '" + solver + "' (choose from adam, exact, flow, spectral)");
        }
    }
}
