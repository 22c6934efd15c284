package dev.wudi.merge;

import dev.wudi.checkpoint.Version;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.RestPolicy;
import dev.wudi.spec.LossScoring;
import dev.wudi.spec.OptionException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.backend.Backend;
import dev.wudi.backend.Placement;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.checkpoint.FreeSpace;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.cuda.CudaException;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.method.Average;
import dev.wudi.method.BaseCopy;
import dev.wudi.method.GrownRows;
import dev.wudi.method.InterferenceScore;
import dev.wudi.method.ModelCopy;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.TaskArithmetic;
import dev.wudi.method.TensorJob;
import dev.wudi.method.TensorOutcome;
import dev.wudi.method.TensorRule;
import dev.wudi.method.TensorSink;
import dev.wudi.method.WudiRule;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.StepListener;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The merge as a sequence of per-tensor steps (load, merge, save), streaming one tensor at a time
 * across the base and the n models so that memory is bounded by a few tensors, never by the model.
 */
public final class Merger {

    private final MergeSpec options;
    private final Backend backend;
    private final Placement placement;
    /** The dealer of the merge running now, if its WUDI tensors run on several devices. */
    private DeviceDealer dealers;
    /** Tensors merged elsewhere, written from their part files ({@link #withPrecomputed}). */
    private Precomputed precomputed;
    /** While {@link #computePart} runs: the tensors it computes, into which file, and their records. */
    private java.util.Set<String> partNames;
    private Path partFile;
    private List<PartTensor> partResult;
    private final MergeListener listener;
    private final Safety safety;
    /** The adapters among the models (null for full checkpoints), set while a run holds its inputs open. */
    private List<dev.wudi.lora.LoraAdapter> adapters = List.of();
    /** Tensors the rest policy "base" keeps although a fine-tune changed them (found by the input scan). */
    private final List<String> keptChanged = new ArrayList<>();
    /** Per model, the files its weights come from (--resume's fingerprint). */
    private List<List<Path>> modelFiles = List.of();

    /**
     * How a merge protects its inputs and output beyond MergeSpec.
     *
     * @param resume         continue the partial output an interrupted run with the same fingerprint left
     * @param allowNonFinite merge inputs holding NaN/Inf (warned) instead of failing
     * @param cancellation   set from another thread (a signal) to stop at the next safe point
     */
    public record Safety(boolean resume, boolean allowNonFinite, Cancellation cancellation,
                         List<dev.wudi.checkpoint.OutputGuard.Target> alsoWritten, List<Path> alsoRead) {
        /**
         * @param alsoWritten paths the caller writes besides --out (reports, parts): checked with it, before anything
         *                    is merged, by the same rules
         * @param alsoRead    inputs besides the checkpoints (a config file): never written
         */
        public Safety {
            alsoWritten = List.copyOf(alsoWritten);
            alsoRead = List.copyOf(alsoRead);
        }

        public Safety(boolean resume, boolean allowNonFinite, Cancellation cancellation) {
            this(resume, allowNonFinite, cancellation, List.of(), List.of());
        }

        public static Safety defaults() {
            return new Safety(false, false, new Cancellation());
        }
    }

    public Merger(MergeSpec options, Backend backend, MergeListener listener) {
        this(options, backend, listener, Safety.defaults());
    }

    public Merger(MergeSpec options, Backend backend, MergeListener listener, Safety safety) {
        this.options = options;
        this.backend = backend;
        this.listener = listener == null ? new MergeListener() { } : listener;
        this.safety = safety;
        this.placement = new Placement(backend, options.threads());
    }

    public MergeReport run() throws IOException {
        long start = System.nanoTime();
        try (Inputs inputs = Inputs.open(options)) {
            List<String> warnings = new ArrayList<>();
            boolean checked = precomputed != null && precomputed.inputsChecked();
            MergePlan plan = prepare(inputs, !checked, warnings);
            if (checked) {
                warnings.addAll(precomputed.inputWarnings());   // said once already, by validate(); the report keeps them
            }
            return merge(plan, inputs.base(), inputs.models(), warnings, start);
        }
    }

    /** The checks of {@link #run()} up to the plan, and the scan of every input for NaN and infinity if asked. */
    private MergePlan prepare(Inputs inputs, boolean scan, List<String> warnings) throws IOException {
        return prepare(inputs, scan, scan, warnings);
    }

    /** @param notes say the plan's notes (once per merge: where the inputs are checked) */
    private MergePlan prepare(Inputs inputs, boolean notes, boolean scan, List<String> warnings) throws IOException {
        Checkpoint base = inputs.base();
        List<Checkpoint> models = inputs.models();
        adapters = inputs.adapters();
        checkModelCount(notes);
        modelFiles = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            modelFiles.add(inputs.fingerprintFiles(i));
        }
        checkAdapterOutput(models);
        OutputCheck.check(options, base, models, modelFiles, safety);
        MergePlan plan = MergePlanner.plan(inputs.planOptions(options), base, models, folderOutput(base),
                inputs.notes());
        checkInclude(plan);
        if (notes) {
            plan.notes().forEach(listener::info);      // once per merge: validate() said them where scan is off
        }
        if (scan) {
            try {
                warnings.addAll(InputScan.run(plan, base, models, safety.allowNonFinite(), safety.cancellation(),
                        keptChanged));
            } catch (MergeInterruptedException e) {
                throw new MergeInterruptedException("interrupted while checking the inputs; nothing was written");
            }
            warnings.forEach(listener::warning);
        }
        return plan;
    }

    /**
     * A tensor the merge's method computes, as a distributed merge deals them out: its name and its estimated work
     * (flops, {@link CostModel}).
     */
    public record MethodTensor(String name, double work) {
    }

    /**
     * Every check {@link #run()} makes before writing, the scan of the inputs included, without writing anything; the
     * tensors the method computes, in output order. A distributed merge calls this on its driver before dealing the
     * tensors out, so that a bad input fails before any executor works.
     *
     * @param warnings receives the warnings the merge would print
     */
    public List<MethodTensor> validate(List<String> warnings) throws IOException {
        try (Inputs inputs = Inputs.open(options)) {
            return methodTensors(prepare(inputs, true, warnings));
        }
    }

    /** The tensors the method computes, in output order, with their estimated work (flops). */
    private List<MethodTensor> methodTensors(MergePlan plan) {
        List<MethodTensor> out = new ArrayList<>();
        for (MergePlan.Entry e : plan.entries()) {
            if (e.action() == MergePlan.Action.METHOD && !e.grown()) {
                out.add(new MethodTensor(e.name(), CostModel.of(e, options, CostModel.NOMINAL_FLOPS,
                        CostModel.NOMINAL_READ_BYTES).flops()));
            }
        }
        return out;
    }

    /**
     * What {@link #checkWithoutScan} plans: the tensors the method computes (as {@link #validate} gives them), and the
     * tensors the scan of the inputs reads, each with the bytes it reads of them, for a distributed merge to scan in
     * pieces ({@link #scanPart}) and conclude once ({@link #concludeScan}).
     */
    public record Planned(List<MethodTensor> method, List<MethodTensor> scanned) {
    }

    /**
     * Every check of {@link #validate} but the scan of the inputs' values: only headers are read. A merge whose inputs
     * lie on remote storage plans on its driver with this, and has executors scan the values.
     */
    public Planned checkWithoutScan() throws IOException {
        try (Inputs inputs = Inputs.open(options)) {
            MergePlan plan = prepare(inputs, true, false, new ArrayList<>());
            List<MethodTensor> scanned = new ArrayList<>();
            for (MergePlan.Entry e : plan.entries()) {
                if (e.action() != MergePlan.Action.COPY && (e.base() == null || e.base().info().dtype().mergeable())) {
                    long bytes = e.base() == null ? 0 : e.base().info().byteSize();
                    for (TensorRef r : e.sources()) {
                        bytes += r.info().byteSize();
                    }
                    scanned.add(new MethodTensor(e.name(), bytes));
                }
            }
            return new Planned(methodTensors(plan), scanned);
        }
    }

    /** The scan of the inputs ({@link #validate}'s) over the named tensors only, recorded for {@link #concludeScan}. */
    public InputScan.Findings scanPart(java.util.Collection<String> names) throws IOException {
        java.util.Set<String> want = new java.util.HashSet<>(names);
        try (Inputs inputs = Inputs.open(options)) {
            MergePlan plan = prepare(inputs, false, false, new ArrayList<>());
            return InputScan.scan(plan, inputs.models().size(), want::contains, !safety.allowNonFinite(),
                    safety.cancellation());
        }
    }

    /**
     * The verdict of the scan over all its pieces, as {@link #validate} gives it: a non-finite value fails (unless
     * allowed), and the warnings are said and returned. Call on the merger that then runs.
     */
    public List<String> concludeScan(List<InputScan.Findings> pieces) throws IOException {
        try (Inputs inputs = Inputs.open(options)) {
            prepare(inputs, false, false, new ArrayList<>());
            keptChanged.clear();
            List<String> warnings = InputScan.conclude(pieces, inputs.base(), inputs.models(),
                    safety.allowNonFinite(), keptChanged);
            warnings.forEach(listener::warning);
            return warnings;
        }
    }

    /**
     * The stored input tensors {@link #run()} reads when the named tensors come from parts: of every other tensor of
     * the plan, the base's and every taking part model's, and the task heads it saves. A driver whose inputs lie on
     * remote storage fetches exactly these for writing the output.
     */
    public Map<Path, java.util.Set<String>> sourcesOfAllBut(java.util.Collection<String> precomputed)
            throws IOException {
        java.util.Set<String> skip = new java.util.HashSet<>(precomputed);
        return storedReads(name -> !skip.contains(name), true);
    }

    /**
     * Tensors merged elsewhere: for each name, a safetensors part file holding its bytes as this merge would write them
     * and its report record ({@link PartTensor#record()}), from {@link #computePart}. {@link #run()} then writes those
     * bytes instead of computing the tensor, so a merge computed in pieces is the same file as one computed here.
     *
     * @param inputsChecked the inputs were scanned already ({@link #validate}): {@link #run()} does not scan them again
     */
    public record Precomputed(Map<String, Path> files, Map<String, String> records, boolean inputsChecked,
                              List<String> inputWarnings) {
        /** @param inputWarnings what {@link #validate} reported of the inputs: the report keeps them */
        public Precomputed {
            inputWarnings = List.copyOf(inputWarnings);
        }

        public Precomputed(Map<String, Path> files, Map<String, String> records, boolean inputsChecked) {
            this(files, records, inputsChecked, List.of());
        }
    }

    /** One tensor of a part file: its name and its report record (JSON, as the resume journal keeps it). */
    public record PartTensor(String name, String record) implements java.io.Serializable {
    }

    /** Writes the given tensors instead of computing them (see {@link Precomputed}); call before {@link #run()}. */
    public Merger withPrecomputed(Precomputed p) {
        this.precomputed = p;
        return this;
    }

    /**
     * Computes the named tensors (each one the method computes) into a safetensors file at {@code part}, exactly as
     * {@link #run()} would write them (same rules, same encoding), and returns their report records. The inputs are
     * not scanned (the driver did, {@link #validate}); nothing else is written.
     */
    public List<PartTensor> computePart(java.util.Collection<String> names, Path part) throws IOException {
        if (options.asAdapter() != null) {
            throw new OptionException("--as-adapter writes an adapter folder in one process; it cannot be merged in"
                    + " parts");
        }
        this.partNames = new java.util.LinkedHashSet<>(names);
        this.partFile = part;
        this.partResult = new ArrayList<>();
        try (Inputs inputs = Inputs.open(options)) {
            MergePlan plan = prepare(inputs, false, new ArrayList<>());
            merge(plan, inputs.base(), inputs.models(), new ArrayList<>(), System.nanoTime());
            return List.copyOf(partResult);
        } finally {
            partNames = null;
        }
    }

    /**
     * The stored input tensors that {@link #computePart}{@code (names, ...)} reads, by file (absolute, normalised): of
     * each named tensor, the base's and every taking part model's. A task whose inputs lie on remote storage fetches
     * exactly these ({@link dev.wudi.format.PartialCopies}). Only the headers are read. Tensors computed from other files
     * (a LoRA adapter's factors) are not listed: their files are read whole.
     */
    public Map<Path, java.util.Set<String>> sourcesOf(java.util.Collection<String> names) throws IOException {
        return storedReads(new java.util.HashSet<>(names)::contains, false);
    }

    /**
     * The stored tensors read for the plan's entries that {@code which} accepts, by file: each entry's base tensor
     * and its models' (what computing or checking it reads); {@code asWritten}: as {@link #run()} writes them, so
     * only the base's where the output copies it, and the task heads it saves besides.
     */
    private Map<Path, java.util.Set<String>> storedReads(java.util.function.Predicate<String> which, boolean asWritten)
            throws IOException {
        Map<Path, java.util.Set<String>> out = new java.util.LinkedHashMap<>();
        try (Inputs inputs = Inputs.open(options)) {
            MergePlan plan = prepare(inputs, false, new ArrayList<>());
            for (MergePlan.Entry e : plan.entries()) {
                if (!which.test(e.name())) {
                    continue;
                }
                addSource(out, e.base());
                // the base's bytes alone where the output copies them (as merge() picks BaseCopy)
                boolean baseOnly = asWritten && !e.grown() && (e.action() == MergePlan.Action.COPY
                        || (e.action() == MergePlan.Action.REST && (options.rest() == RestPolicy.BASE
                        || e.models().isEmpty())));
                if (!baseOnly) {
                    e.sources().forEach(r -> addSource(out, r));
                }
            }
            if (asWritten) {
                for (MergePlan.Extra x : plan.extras()) {
                    if (x.saved()) {
                        addSource(out, x.ref());
                    }
                }
            }
        }
        return out;
    }

    private static void addSource(Map<Path, java.util.Set<String>> out, TensorRef r) {
        if (r != null && r.file() != null) {
            out.computeIfAbsent(r.file().path().toAbsolutePath().normalize(), k -> new java.util.LinkedHashSet<>())
                    .add(r.name());
        }
    }

    /**
     * A model given twice would count twice in every method: refused. One model with WUDI or an averaging method
     * gives (about) that model: warned, with what to do instead.
     */
    private void checkModelCount(boolean warn) {
        java.util.Set<Path> seen = new java.util.HashSet<>();
        for (Path p : options.models()) {
            if (!seen.add(p.toAbsolutePath().normalize())) {
                throw new OptionException("--model " + p + " is given twice; each fine-tune counts once");
            }
        }
        if (!warn) {
            return;                                     // said once already, where the merge's checks were made
        }
        if (options.models().size() == 1 && options.method().oneModelWarning() != null) {
            listener.warning(options.method().oneModelWarning());
        }
    }

    /** --include that gives the method no tensor is a mistake the user should hear about, not a copy of the base. */
    private void checkInclude(MergePlan plan) {
        if (options.include() != null && plan.methodCount() == 0) {
            throw new OptionException("--include " + options.include().pattern() + " matches no tensor the method can"
                    + " take (of the base's " + plan.entries().size() + "; `wudi plan` lists them with their roles)");
        }
    }

    /** Whether the output is a folder: the base's kind, and always for an adapter. */
    private boolean folderOutput(Checkpoint base) {
        return base.isFolder() || options.asAdapter() != null;
    }

    /** --as-adapter writes an adapter, which only adapters can make exactly: refuses full checkpoints among the models. */
    private void checkAdapterOutput(List<Checkpoint> models) {
        if (options.asAdapter() == null) {
            return;
        }
        for (int i = 0; i < models.size(); i++) {
            if (adapters.get(i) == null) {
                throw new OptionException("--as-adapter needs every --model to be a PEFT LoRA adapter folder, but "
                        + MergePlanner.who(models, i) + " is a full checkpoint; drop --as-adapter to write a full"
                        + " merged model");
            }
        }
    }

    /**
     * The plan of this merge without merging: opens and checks the inputs as {@link #run()} does (a model that
     * is not a fine-tune of the base is refused the same way), then hands the plan to {@code use} while the
     * inputs are open. Nothing is read beyond the headers and config.json files; nothing is written.
     */
    public <T> T plan(java.util.function.Function<MergePlan, T> use) throws IOException {
        try (Inputs inputs = Inputs.open(options)) {
            Checkpoint base = inputs.base();
            return use.apply(MergePlanner.plan(inputs.planOptions(options), base, inputs.models(), folderOutput(base),
                    inputs.notes()));
        }
    }

    /**
     * What identifies this merge for --resume: every option that changes the output's bytes, the CPU
     * thread count (OpenBLAS may sum in another order with another count), and every input file's path,
     * size and modification time.
     */
    private Map<String, String> fingerprint(Checkpoint base, List<Checkpoint> models) throws IOException {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("journal", "2");
        f.put("out", options.out().toAbsolutePath().normalize().toString());
        // every option that decides the bytes, named and spelled as the command line takes it, so that a refused
        // resume names what changed in the user's words
        options.settings(dev.wudi.spec.MergeOption.Effect.OUTPUT, dev.wudi.spec.MergeOption.Effect.FINGERPRINT)
                .forEach((o, v) -> f.put(o.name(), v));
        f.put("--threads", String.valueOf(options.threads() > 0 ? options.threads()
                : Runtime.getRuntime().availableProcessors()));
        f.put("seed", String.valueOf(options.parameters().seed()));
        if (options.config() != null) {
            f.put("config", String.valueOf(options.config().normalizedYaml()));   // per-tensor parameters too
        }
        f.put("backend", backend.name());
        List<Checkpoint> all = new ArrayList<>();
        all.add(base);
        all.addAll(models);
        for (int i = 0; i < all.size(); i++) {
            String who = i == 0 ? "base" : "model " + i;
            List<Path> files = i > 0 && modelFiles.size() >= i ? modelFiles.get(i - 1)
                    : all.get(i).weightFiles();                    // an adapter's config decides its delta too
            for (int j = 0; j < files.size(); j++) {
                Path p = files.get(j).toAbsolutePath().normalize();
                f.put(who + (files.size() > 1 ? " file " + j : ""), p + " (" + Files.size(p) + " bytes, modified "
                        + Files.getLastModifiedTime(p).toMillis() + ")");
            }
        }
        return f;
    }

    private MergeReport merge(MergePlan plan, Checkpoint base, List<Checkpoint> models, List<String> warnings,
                              long start) throws IOException {
        try {
            // where WUDI runs: a solver the device lacks moves it to the CPU, and the one line that says so
            Placement.Placed wudi = options.method() == MergeMethods.WUDI
                    ? placement.forSolver(options.effectiveSolver()) : new Placement.Placed(backend, null);
            if (wudi.note() != null) {
                warnings = new ArrayList<>(warnings);
                warnings.add(wudi.note());
                listener.warning(wudi.note());
            }
            return merge(plan, base, models, warnings, start, wudi.backend());
        } finally {
            placement.close();                          // the CPU it opened for this merge, if any
        }
    }

    private MergeReport merge(MergePlan plan, Checkpoint base, List<Checkpoint> models, List<String> warnings,
                              long start, Backend wudiBackend) throws IOException {
        TensorRule methodRule = methodRule(wudiBackend);
        TensorRule restRule = restRule();
        TensorRule copy = new BaseCopy();
        TensorRule fromModel = new ModelCopy();
        TensorRule scoredRule = scoring(plan) ? new InterferenceScore(methodRule) : null;
        java.util.function.Function<MergePlan.Entry, TensorRule> ruleOf = e -> {
            TensorRule rule;
            switch (e.action()) {
                case COPY:
                    rule = copy;
                    break;
                case FROM_MODEL:
                    rule = fromModel;
                    break;
                case METHOD:
                    rule = scoredRule != null && scorable(e) ? scoredRule : methodRule;
                    break;
                default:
                    rule = e.models().isEmpty() ? copy : restRule;
            }
            return e.grown() ? new GrownRows(rule, e.outShape()[0]) : rule;
        };
        if (options.asAdapter() != null) {
            try {
                return mergeAsAdapter(plan, base, models, warnings, start, wudiBackend, ruleOf);
            } finally {
                if (methodRule instanceof WudiRule wudi) {
                    wudi.close();
                }
            }
        }

        List<MergePlan.Entry> entries = plan.entries();
        List<TensorRule> rules = new ArrayList<>();
        List<TensorSpec> specs = new ArrayList<>();
        long totalWork = 0;
        for (MergePlan.Entry e : entries) {
            rules.add(ruleOf.apply(e));
            specs.add(new TensorSpec(e.name(), e.outDType(), e.outShape()));
            totalWork += CostModel.work(e, options);
        }
        if (partNames != null) {
            computeParts(entries, specs, rules);
            return null;
        }
        int optimised = 0;
        int scored = 0;
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).action() == MergePlan.Action.METHOD && options.method() == MergeMethods.WUDI) {
                optimised++;
            } else if (rules.get(i) instanceof InterferenceScore) {
                scored++;
            }
        }
        if (scored > 0) {
            listener.scoring(scored);
        }
        listener.started(specs.size(), optimised, totalWork);

        Map<String, String> metadata = new LinkedHashMap<>(base.metadata());
        List<TensorRecord> records = new ArrayList<>();
        long outputBytes = 0;
        Cancellation cancel = safety.cancellation();
        OutputFiles files = new OutputFiles(options, plan, base, models);
        try (CheckpointWriter writer = CheckpointWriter.create(options.out(), base.isFolder(), specs, metadata,
                options.shardBytes(), files.companions(), fingerprint(base, models), resumesOutput(),
                listener::info)) {
            try {
                int skip = writer.resumedCount();
                for (int i = 0; i < skip; i++) {
                    TensorSpec spec = specs.get(i);
                    TensorRecord rec = fromJson(writer.resumedRecord(i), spec, entries.get(i));
                    records.add(rec);
                    outputBytes += spec.byteSize();
                    listener.tensorStarted(i, spec.name(), rec.method());
                    listener.tensorDone(rec, CostModel.work(entries.get(i), options));
                }
                DeviceDealer dealer = dealer(wudiBackend, methodRule, rules, entries, skip);
                for (int index = skip; index < specs.size(); index++) {
                    cancel.check();
                    TensorSpec spec = specs.get(index);
                    TensorRule rule = rules.get(index);
                    boolean dealt = dealer != null && rule == methodRule;
                    if (rule instanceof WudiRule wudi && dealer == null) {
                        // lets an asynchronous backend load the next WUDI tensor while this one solves
                        wudi.upcoming(nextJobOf(rule, rules, entries, index));
                    }
                    TensorRecord rec;
                    try {
                        rec = precomputed != null && precomputed.files().containsKey(spec.name())
                                ? fromPart(entries.get(index), spec, rule, index, TensorOut.of(writer))
                                : mergeOne(entries.get(index), spec, rule, index, TensorOut.of(writer),
                                        dealt ? dealer : null);
                    } catch (OutOfMemoryError e) {
                        throw new OutOfMemory(spec.name(), CostModel.of(entries.get(index), options,
                                CostModel.NOMINAL_FLOPS, CostModel.NOMINAL_READ_BYTES).peakBytes(), e);
                    }
                    records.add(rec);
                    outputBytes += spec.byteSize();
                    try {
                        writer.tensorDone(index, spec.name(), toJson(rec));
                    } catch (IOException e) {
                        throw writeFailed(writer, "writing tensor " + spec.name(), e);
                    }
                    listener.tensorDone(rec, CostModel.work(entries.get(index), options));
                }
                cancel.check();
                RunInfo run = runInfo(plan, models);
                String device = wudiBackend == backend ? backend.name()
                        : backend.name() + " (WUDI on " + wudiBackend.name() + ")";
                keptNote().ifPresent(listener::info);
                List<String> finalWarnings = withZeroNote(warnings, records, models);
                finalWarnings.subList(warnings.size(), finalWarnings.size()).forEach(listener::warning);
                MergeReport report = new MergeReport(methodDescription(), device, options.out().toString(), records,
                        finalWarnings, (System.nanoTime() - start) / 1e9, outputBytes, run);
                writer.generateAtCommit(dir -> files.writeInto(dir, report));
                // hours may have passed: whatever is at --out now must still be plainly an earlier output
                try {
                    dev.wudi.checkpoint.OutputGuard.checkReplaceable(OutputCheck.outTarget(options, base),
                            options.force());
                } catch (dev.wudi.checkpoint.UsageMistakeException e) {
                    writer.keepPartialOnClose();
                    throw new dev.wudi.checkpoint.UsageMistakeException(e.getMessage() + " (it appeared during the"
                            + " merge); the merge is complete in " + writer.temporaryPath() + ": move " + options.out()
                            + " away and rerun the same command with --resume to put it in place");
                }
                try {
                    writer.commit();
                } catch (IOException e) {
                    throw writeFailed(writer, "finishing the output", e);
                }
                return new MergeReport(report.method(), report.device(), report.out(), report.tensors(),
                        report.warnings(), (System.nanoTime() - start) / 1e9, outputBytes, run);
            } catch (WriteFailure e) {
                // hours of completed tensors are worth more than the disk space they hold until a resume
                throw new IOException(e.getMessage() + kept(writer, specs.size(), "are complete and kept in",
                        ": free space and rerun the same command with --resume to continue"), e.getCause());
            } catch (NonFiniteResult e) {
                // as for a full disk: the tensors before this one are done and journaled
                throw e.withMessage(e.getMessage() + kept(writer, specs.size(), "are complete and kept in",
                        " for --resume"));
            } catch (OutOfMemory e) {
                // as for a full disk: the tensors before this one are done, and a JVM given more memory resumes there
                throw new IOException(e.getMessage() + kept(writer, specs.size(), "are complete and kept in",
                        ": rerun the same command with more memory and --resume to continue"), e.getCause());
            } catch (MergeInterruptedException e) {
                throw new MergeInterruptedException(e.getMessage() + kept(writer, specs.size(), "are kept in",
                        ": rerun the same command with --resume to continue"));
            }
        } finally {
            if (dealers != null) {
                dealers.close();
                dealers = null;
            }
            if (methodRule instanceof WudiRule wudi) {
                wudi.close();
            }
        }
    }

    /** A tensor a method other than WUDI merges on which WUDI's loss is defined (what WUDI would take). */
    private static boolean scorable(MergePlan.Entry e) {
        return e.action() == MergePlan.Action.METHOD && !e.grown() && e.base() != null
                && InterferenceScore.applies(e.outShape(), e.layout(), e.models().size());
    }

    /**
     * Whether a method other than WUDI reports WUDI's loss of its result (--interference-loss): always under on;
     * under auto when the estimated cost is small, else one line says what it would cost and how to ask for it.
     */
    private boolean scoring(MergePlan plan) {
        if (options.method() == MergeMethods.WUDI || options.lossScoring() == LossScoring.OFF) {
            return false;
        }
        double flops = 0;
        int count = 0;
        for (MergePlan.Entry e : plan.entries()) {
            if (scorable(e)) {
                flops += InterferenceScore.flops(e.outShape(), e.layout(), e.models().size());
                count++;
            }
        }
        if (count == 0 || options.lossScoring() == LossScoring.ON) {
            return count > 0;
        }
        double seconds = flops / CostModel.NOMINAL_FLOPS;
        if (seconds <= LossScoring.AUTO_BUDGET_SECONDS) {
            return true;
        }
        listener.info("WUDI's interference loss of this " + options.method().name() + " merge is not computed for"
                + " the report (" + count + " weights, about " + String.format(java.util.Locale.ROOT, "%.0f s", seconds)
                + " at nominal CPU rates); --interference-loss on computes it");
        return false;
    }

    /** The merge written as a LoRA adapter folder ({@link AdapterMerge}). */
    private MergeReport mergeAsAdapter(MergePlan plan, Checkpoint base, List<Checkpoint> models, List<String> warnings,
                                       long start, Backend wudiBackend,
                                       java.util.function.Function<MergePlan.Entry, TensorRule> ruleOf)
            throws IOException {
        AdapterMerge.Result r = new AdapterMerge(options, plan, base, models, adapters, listener, safety.cancellation(),
                safety.allowNonFinite())
                .run(ruleOf, this::job, methodDescription());
        r.notes().forEach(listener::info);
        keptNote().ifPresent(listener::info);
        List<String> finalWarnings = withZeroNote(warnings, r.records(), models);
        finalWarnings.subList(warnings.size(), finalWarnings.size()).forEach(listener::warning);
        String device = wudiBackend == backend ? backend.name() : backend.name() + " (WUDI on " + wudiBackend.name() + ")";
        RunInfo run = runInfo(plan, models);
        List<String> notes = new ArrayList<>(run.notes());
        notes.addAll(r.notes());
        run = new RunInfo(run.tool(), run.version(), run.base(), run.models(), run.options(), run.command(), notes,
                run.extras());
        return new MergeReport(methodDescription(), device, options.out().toString(), r.records(), finalWarnings,
                (System.nanoTime() - start) / 1e9, r.bytes(), run);
    }

    /** The method with its solver and settings, as reports and the model card name it. */
    public String methodDescription() {
        return options.method().describe(settings(null));
    }

    /**
     * The method's settings for its rule: the effective scale and density, the seed, and WUDI's rule on
     * {@code wudiBackend} (null where only the description is wanted).
     */
    private dev.wudi.method.MethodSettings settings(Backend wudiBackend) {
        return new dev.wudi.method.MethodSettings() {
            @Override
            public double scale() {
                return options.effectiveScale();
            }

            @Override
            public double density() {
                return options.effectiveDensity();
            }

            @Override
            public long seed() {
                return options.parameters().seed();
            }

            @Override
            public TensorRule wudi() {
                return wudiRule(wudiBackend, true);
            }

            @Override
            public String solverDescription() {
                SolverSpec s = options.effectiveSolver();
                return s instanceof SolverSpec.Adam && options.autoLr() != null ? "adam lr " + options.autoLr()
                        .describe() + ", " + options.adam().iterations() + " steps" : s.describe();
            }
        };
    }

    /**
     * Every option that decides the output as given or by default, as the reports and the model card list them (the
     * heads policy as the plan resolved it, and the device the method ran on).
     */
    Map<String, String> optionValues(MergePlan plan) {
        Map<String, String> m = new LinkedHashMap<>();
        options.settings(dev.wudi.spec.MergeOption.Effect.OUTPUT).forEach((o, v) -> m.put(o.name().substring(2),
                o == dev.wudi.spec.OptionTable.HEADS ? plan.heads().cliName() : v));
        m.put("device", backend.name());
        return m;
    }

    private RunInfo runInfo(MergePlan plan, List<Checkpoint> models) {
        List<String> modelPaths = new ArrayList<>();
        options.models().forEach(p -> modelPaths.add(p.toString()));
        List<String> extras = new ArrayList<>();
        for (MergePlan.Extra x : plan.extras()) {
            extras.add("model " + (x.model() + 1) + ": " + x.name() + " " + x.ref().info().shapeString() + ": " + x.fate());
        }
        return new RunInfo("wudi", Version.get(), String.valueOf(options.base()), modelPaths, optionValues(plan),
                options.command() != null ? options.command() : dev.wudi.spec.ReproduceCommand.of(options), plan.notes(), extras);
    }

    /** One summary line naming the models whose task vector was zero somewhere (left out of those losses). */
    /**
     * The summary's line (an info, not a warning: the default is deliberate) about tensors that kept the base
     * although the fine-tunes changed them (embeddings, norms, biases under --rest base), with how to merge them.
     */
    private java.util.Optional<String> keptNote() {
        if (keptChanged.isEmpty()) {
            return java.util.Optional.empty();
        }
        int n = keptChanged.size();
        String some = String.join(", ", keptChanged.subList(0, Math.min(4, n))) + (n > 4 ? ", ..." : "");
        return java.util.Optional.of(n + " tensor" + (n == 1 ? "" : "s") + " kept the base although the fine-tunes"
                + " changed " + (n == 1 ? "it" : "them") + " (" + some + ") under --rest base: --rest average or --rest"
                + " task-arithmetic merges them, --include REGEX gives them to the method");
    }

    private static List<String> withZeroNote(List<String> warnings, List<TensorRecord> records, List<Checkpoint> models) {
        Map<Integer, Integer> tensorsPerModel = new java.util.TreeMap<>();
        for (TensorRecord r : records) {
            r.zeroTaskVectors().forEach(k -> tensorsPerModel.merge(k, 1, Integer::sum));
        }
        if (tensorsPerModel.isEmpty()) {
            return warnings;
        }
        List<String> parts = new ArrayList<>();
        tensorsPerModel.forEach((k, n) -> parts.add("model " + k + " in " + n + " tensor" + (n == 1 ? "" : "s")));
        List<String> out = new ArrayList<>(warnings);
        out.add("zero task vectors (the fine-tune left these weights exactly as the base): " + String.join(", ", parts)
                + "; each such model is left out of that tensor's WUDI loss (its weight 1/||tau||^2 would be infinite);"
                + " the report names them per tensor");
        return out;
    }

    /** Computes and writes one tensor; every failure names the tensor (and the file where there is one). */
    private TensorRecord mergeOne(MergePlan.Entry entry, TensorSpec spec, TensorRule rule, int index,
                                  TensorOut writer, DeviceDealer dealer) throws IOException {
        String name = spec.name();
        TensorJob job = job(entry);
        listener.tensorStarted(index, name, rule.label(), CostModel.work(entry, options));
        long t0 = System.nanoTime();
        CountingSink sink = new CountingSink(writer, spec.dtype(), name, safety.cancellation(),
                safety.allowNonFinite());
        TensorOutcome outcome;
        double seconds = -1;
        Map<String, Double> details = null;
        try {
            if (dealer != null) {
                // computed by one of several devices into memory: written here, in output order
                DeviceDealer.Computed c = dealer.take(index);
                c.output().replay(sink);
                outcome = c.outcome();
                seconds = c.seconds();
                details = new LinkedHashMap<>(outcome.details());
                details.put("device", (double) c.device());      // its position in the --device list
            } else {
                outcome = rule.apply(job, sink);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MergeInterruptedException("interrupted while tensor " + name + " was being merged");
        } catch (NonFiniteResult e) {
            throw NonFiniteCause.described(e, spec.shape(), rule.label(), job, adapters);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(e.getMessage());
        } catch (CudaException e) {
            // the call and its status are in the message; the tensor is added here
            throw new CheckpointException("tensor " + name + ": " + e.getMessage()
                    + "; no output was written (temporary output removed)");
        }
        if (sink.bytes != spec.byteSize()) {
            throw new IllegalStateException("rule " + rule.label() + " wrote " + sink.bytes + " bytes for "
                    + name + ", expected " + spec.byteSize());
        }
        List<Integer> zeros = new ArrayList<>();
        for (int k : outcome.zeroTaskVectors()) {
            if (entry.sources().get(k) != entry.base()) {       // an adapter's untouched tensor is zero as expected
                zeros.add(entry.models().get(k) + 1);
            }
        }
        return new TensorRecord(name, rule.label(), spec.shape(), spec.dtype().name(),
                outcome.lossBefore(), outcome.lossAfter(), seconds >= 0 ? seconds : (System.nanoTime() - t0) / 1e9,
                details != null ? details : outcome.details(),
                entry.role().label(), entry.layout().label(), leftOut(entry), zeros);
    }

    /** {@link #computePart}: the requested tensors, in output order, into one safetensors part file. */
    private void computeParts(List<MergePlan.Entry> entries, List<TensorSpec> specs, List<TensorRule> rules)
            throws IOException {
        List<Integer> wanted = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            if (partNames.contains(specs.get(i).name())) {
                if (entries.get(i).action() != MergePlan.Action.METHOD || entries.get(i).grown()) {
                    throw new IllegalArgumentException("tensor " + specs.get(i).name() + " is not one the method"
                            + " computes; a part holds only those");
                }
                wanted.add(i);
            }
        }
        if (wanted.size() != partNames.size()) {
            java.util.Set<String> missing = new java.util.LinkedHashSet<>(partNames);
            wanted.forEach(i -> missing.remove(specs.get(i).name()));
            throw new IllegalArgumentException("the merge's plan has no tensor " + missing.iterator().next());
        }
        List<TensorSpec> partSpecs = new ArrayList<>();
        wanted.forEach(i -> partSpecs.add(specs.get(i)));
        try (dev.wudi.format.SafetensorsWriter w = dev.wudi.format.SafetensorsWriter.create(partFile, partSpecs,
                Map.of())) {
            TensorOut out = TensorOut.of(w, partFile);
            for (int i : wanted) {
                TensorRecord rec = mergeOne(entries.get(i), specs.get(i), rules.get(i), i, out, null);
                partResult.add(new PartTensor(specs.get(i).name(), toJson(rec).toString()));
            }
            w.finish();
        }
    }

    /**
     * Whether the output's partial is resumed: --resume, except where the tensors were merged elsewhere and no partial
     * output exists yet (a distributed merge resumes its computed parts; the output is then written afresh).
     */
    private boolean resumesOutput() {
        return safety.resume() && (precomputed == null
                || Files.exists(dev.wudi.checkpoint.CheckpointWriter.partialPath(options.out())));
    }

    /**
     * Keeps the partial output of a failed merge for --resume and says so: "; N of M tensors ARE kept in TMP HOW", or
     * that the temporary output was removed where no tensor was complete.
     */
    private static String kept(CheckpointWriter writer, int total, String are, String how) {
        writer.keepPartialOnClose();
        return writer.keepsPartial() ? "; " + writer.completedCount() + " of " + total + " tensors " + are + " "
                + writer.temporaryPath() + how : "; the temporary output was removed";
    }

    /** A tensor merged elsewhere: its bytes from the part file, its record as computed there. */
    private TensorRecord fromPart(MergePlan.Entry entry, TensorSpec spec, TensorRule rule, int index, TensorOut writer)
            throws IOException {
        String name = spec.name();
        Path file = precomputed.files().get(name);
        listener.tensorStarted(index, name, rule.label(), CostModel.work(entry, options));
        CountingSink sink = new CountingSink(writer, spec.dtype(), name, safety.cancellation(),
                safety.allowNonFinite());
        try (dev.wudi.format.SafetensorsFile f = dev.wudi.format.SafetensorsFile.open(file)) {
            dev.wudi.format.TensorInfo t = f.tensor(name);
            if (t.dtype() != spec.dtype() || !java.util.Arrays.equals(t.shape(), spec.shape())) {
                throw new CheckpointException(file + ": tensor " + name + " is " + t.dtype() + " " + t.shapeString()
                        + ", the merge writes " + spec.dtype() + " " + java.util.Arrays.toString(spec.shape())
                        + " (a part of another merge?)");
            }
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(8L << 20, Math.max(1, spec.byteSize())));
            for (long at = 0; at < spec.byteSize(); ) {
                buf.clear();
                buf.limit((int) Math.min(buf.capacity(), spec.byteSize() - at));
                f.readBytes(t, at, buf);
                buf.flip();
                at += buf.remaining();
                sink.writeRaw(buf);
            }
        }
        return fromJson(JSON.readTree(precomputed.records().get(name)), spec, entry);
    }

    private static List<String> leftOut(MergePlan.Entry e) {
        List<String> out = new ArrayList<>();
        e.leftOut().forEach((k, why) -> out.add("model " + (k + 1) + ": " + why));
        return out;
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A report record for the journal (NaN, for tensors no loss applies to, as null). */
    private static JsonNode toJson(TensorRecord r) {
        ObjectNode n = JSON.createObjectNode();
        n.put("method", r.method());
        if (Double.isFinite(r.lossBefore())) {
            n.put("loss_before", r.lossBefore());
        }
        if (Double.isFinite(r.lossAfter())) {
            n.put("loss_after", r.lossAfter());
        }
        n.put("seconds", r.seconds());
        ObjectNode details = n.putObject("details");
        r.details().forEach(details::put);
        r.zeroTaskVectors().forEach(n.putArray("zero_task_vectors")::add);
        return n;
    }

    private static TensorRecord fromJson(JsonNode n, TensorSpec spec, MergePlan.Entry entry) {
        Map<String, Double> details = new LinkedHashMap<>();
        n.path("details").fields().forEachRemaining(e -> details.put(e.getKey(), e.getValue().asDouble()));
        List<Integer> zeros = new ArrayList<>();
        n.path("zero_task_vectors").forEach(z -> zeros.add(z.asInt()));
        return new TensorRecord(spec.name(), n.path("method").asText("?"), spec.shape(), spec.dtype().name(),
                n.has("loss_before") ? n.get("loss_before").asDouble() : Double.NaN,
                n.has("loss_after") ? n.get("loss_after").asDouble() : Double.NaN, n.path("seconds").asDouble(),
                details, entry.role().label(), entry.layout().label(), leftOut(entry), zeros);
    }

    /** A failed write (disk full, I/O error) as one line: the file, what was being written, why. */
    private static IOException writeFailed(CheckpointWriter writer, String doing, IOException e) {
        String why = e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null ? fse.getReason()
                : e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        Path file = e instanceof java.nio.file.FileSystemException fse && fse.getFile() != null
                ? Path.of(fse.getFile()) : writer.currentFile();
        return new WriteFailure(file + ": " + doing + " failed: " + why
                + (why.contains("No space left") ? "" : " (is the disk full?)"), e);
    }

    /**
     * A write to the output failed (a full disk, a file size limit, a lost network share). The tensors
     * completed before it are on disk and journaled, so the partial output is kept for --resume.
     */
    private static final class WriteFailure extends IOException {
        private static final long serialVersionUID = 1L;

        WriteFailure(String message, IOException cause) {
            super(message, cause);
        }
    }

    /**
     * A tensor that ran out of memory: the heap (-Xmx) or JavaCPP's native budget (its maxBytes, which the CLI sets
     * to the machine's memory), or native memory the system refused. Named with the plan's estimate of its peak.
     */
    private static final class OutOfMemory extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OutOfMemory(String tensor, long plannedBytes, OutOfMemoryError cause) {
            super("tensor " + tensor + ": out of memory (" + cause.getMessage() + "); `wudi plan` estimates its peak at "
                    + FreeSpace.human(plannedBytes) + " besides the JVM: give the JVM more (WUDI_JAVA_OPTS='-Xmx..'"
                    + " for the heap, -Dorg.bytedeco.javacpp.maxBytes=.. for native buffers) or choose a solver that"
                    + " needs less (`wudi plan --solver ...` compares them)", cause);
        }
    }

    /** The job of one planned tensor: the base's tensor (or, for a head taken from a model, that model's). */
    private TensorJob job(MergePlan.Entry e) {
        TensorRef base = e.base() != null ? e.base() : e.sources().get(0);
        return new TensorJob(e.name(), base, e.sources(), e.outDType(), e.layout(), e.models(),
                options.parameters().forTensor(e.name()));
    }

    /** The next tensor after index that the same rule computes, or null (for WUDI's overlapped uploads). */
    private TensorJob nextJobOf(TensorRule rule, List<TensorRule> rules, List<MergePlan.Entry> entries,
                                       int index) {
        for (int j = index + 1; j < entries.size(); j++) {
            if (rules.get(j) == rule) {
                return job(entries.get(j));
            }
        }
        return null;
    }

    private TensorRule methodRule(Backend wudiBackend) {
        return options.method().rule(settings(wudiBackend));
    }

    /**
     * WUDI's rule on one device. With steps, each Adam step is reported to the listener; a rule of a device set's
     * worker ({@link DeviceDealer}) reports none (steps of several tensors would interleave) but still stops at an
     * interruption, and its warnings reach the listener one at a time.
     */
    private WudiRule wudiRule(Backend on, boolean steps) {
        int iters = options.adam().iterations();
        Cancellation cancel = safety.cancellation();
        return new WudiRule(on, placement, options.effectiveSolver(), options.autoLr(),
                StepListener.stepsOnly(t -> {
                    cancel.check();
                    if (steps) {
                        listener.step(t, iters);
                    }
                }), steps ? listener::warning : this::warningFromWorker, options.effectiveScale());
    }

    private synchronized void warningFromWorker(String line) {
        listener.warning(line);
    }

    /** The dealer of the WUDI tensors when they run on several devices, or null (one device). */
    private DeviceDealer dealer(Backend wudiBackend, TensorRule methodRule, List<TensorRule> rules,
                                List<MergePlan.Entry> entries, int skip) {
        if (wudiBackend.devices().size() < 2 || !(methodRule instanceof WudiRule)) {
            return null;
        }
        List<DeviceDealer.Deal> deals = new ArrayList<>();
        for (int i = skip; i < entries.size(); i++) {
            if (rules.get(i) == methodRule
                    && (precomputed == null || !precomputed.files().containsKey(entries.get(i).name()))) {
                deals.add(new DeviceDealer.Deal(i, job(entries.get(i)), CostModel.of(entries.get(i), options,
                        CostModel.NOMINAL_FLOPS, CostModel.NOMINAL_READ_BYTES).flops()));
            }
        }
        dealers = new DeviceDealer(wudiBackend.devices(), deals, b -> wudiRule(b, false), placement,
                this::warningFromWorker);
        return dealers;
    }

    private TensorRule restRule() {
        switch (options.rest()) {
            case AVERAGE:
                return new Average();
            case TASK_ARITHMETIC:
                return new TaskArithmetic(options.method() == MergeMethods.TASK_ARITHMETIC || options.scale() != null
                        ? options.effectiveScale() : MergeMethods.TASK_ARITHMETIC.defaultOf("scale"));
            default:
                return new BaseCopy();
        }
    }

    /**
     * Forwards to the writer and counts bytes, so a rule that writes too little or too much is caught; a
     * write that fails (disk full) is reported with the file and the tensor; a stop request is honoured
     * between chunks.
     */
    /** Where a tensor's bytes go: the checkpoint being written, or a part file ({@link #computePart}). */
    private interface TensorOut {
        void writeFloats(float[] src, int off, int count, int elementBytes) throws IOException;

        void write(ByteBuffer bytes) throws IOException;

        /** The failure as one line naming the file and what was being written. */
        IOException failed(String doing, IOException e);

        static TensorOut of(CheckpointWriter w) {
            return new TensorOut() {
                @Override
                public void writeFloats(float[] src, int off, int count, int elementBytes) throws IOException {
                    w.writeFloats(src, off, count, elementBytes);
                }

                @Override
                public void write(ByteBuffer bytes) throws IOException {
                    w.write(bytes);
                }

                @Override
                public IOException failed(String doing, IOException e) {
                    return writeFailed(w, doing, e);
                }
            };
        }

        static TensorOut of(dev.wudi.format.SafetensorsWriter w, Path file) {
            return new TensorOut() {
                @Override
                public void writeFloats(float[] src, int off, int count, int elementBytes) throws IOException {
                    w.writeFloats(src, off, count);
                }

                @Override
                public void write(ByteBuffer bytes) throws IOException {
                    w.write(bytes);
                }

                @Override
                public IOException failed(String doing, IOException e) {
                    return new IOException(file + ": " + doing + " failed: " + e.getMessage(), e);
                }
            };
        }
    }

    private static final class CountingSink implements TensorSink {
        private final TensorOut writer;
        private final DType dtype;
        private final int elementBytes;
        private final String tensor;
        private final Cancellation cancel;
        /** Whether non-finite values may be written (--allow-nonfinite: the inputs may hold them). */
        private final boolean allowNonFinite;
        long bytes;

        CountingSink(TensorOut writer, DType dtype, String tensor, Cancellation cancel, boolean allowNonFinite) {
            this.writer = writer;
            this.dtype = dtype;
            this.elementBytes = dtype.bytes();
            this.tensor = tensor;
            this.cancel = cancel;
            this.allowNonFinite = allowNonFinite;
        }

        @Override
        public void writeFloats(float[] src, int off, int count) throws IOException {
            cancel.check();
            if (!allowNonFinite && dtype.mergeable()) {
                int bad = dev.wudi.format.Floats.firstNonFinite(dtype, src, off, count);
                if (bad >= 0) {
                    throw new NonFiniteResult(tensor, bytes / elementBytes + bad, src[off + bad]);
                }
            }
            try {
                writer.writeFloats(src, off, count, elementBytes);
            } catch (IOException e) {
                throw writeFailed(e);
            }
            bytes += (long) count * elementBytes;
        }

        @Override
        public void writeRaw(ByteBuffer b) throws IOException {
            cancel.check();
            if (!allowNonFinite && dtype.mergeable()) {
                long bad = dev.wudi.format.Floats.firstNonFinite(dtype, b);
                if (bad >= 0) {
                    throw new NonFiniteResult(tensor, bytes / elementBytes + bad,
                            dev.wudi.format.Floats.valueAt(dtype, b, bad));
                }
            }
            bytes += b.remaining();
            try {
                writer.write(b);
            } catch (IOException e) {
                throw writeFailed(e);
            }
        }

        private IOException writeFailed(IOException e) {
            return writer.failed("writing tensor " + tensor, e);
        }
    }
}
