package dev.wudi.merge;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.method.TensorJob;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionException;
import dev.wudi.spec.RestPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A merge's inputs opened, checked and planned once: the base and the models (full checkpoints or LoRA adapters
 * composed over the base), the refusals made before anything is written (a model given twice, --as-adapter with a
 * full checkpoint, an output that would overwrite something, an --include that takes nothing), the plan of every
 * tensor, and, where asked, the scan of every input for NaN and infinity. Every way of running a merge (in one
 * process, in parts on a cluster, as an adapter) works from one session; closing it closes the inputs.
 */
public final class MergeSession implements AutoCloseable {

    /** How much a session checks when it opens. */
    public enum Checks {
        /** Only the plan: what `wudi plan` shows (the output path is not checked). */
        PLAN,
        /** The plan and the refusals, silently (a piece of a merge whose checks were said elsewhere). */
        QUIET,
        /** The plan and the refusals, and the plan's notes and the one-model warning said. */
        SAY,
        /** As SAY, and the scan of the inputs' values. */
        SCAN
    }

    private final MergeSpec spec;
    private final MergeListener listener;
    private final Merger.Safety safety;
    private final Inputs inputs;
    private final MergePlan plan;
    private final List<List<Path>> modelFiles;
    private final List<String> warnings = new ArrayList<>();
    /** Tensors the rest policy "base" keeps although a fine-tune changed them (found by the input scan). */
    private final List<String> keptChanged = new ArrayList<>();

    private MergeSession(MergeSpec spec, MergeListener listener, Merger.Safety safety, Inputs inputs, Checks checks)
            throws IOException {
        this.spec = spec;
        this.listener = listener;
        this.safety = safety;
        this.inputs = inputs;
        List<List<Path>> files = new ArrayList<>();
        for (int i = 0; i < inputs.models().size(); i++) {
            files.add(inputs.fingerprintFiles(i));
        }
        this.modelFiles = Collections.unmodifiableList(files);
        if (checks != Checks.PLAN) {
            checkModelCount(checks != Checks.QUIET);
            checkAdapterOutput();
            OutputCheck.check(spec, inputs.base(), inputs.models(), modelFiles, safety);
        }
        this.plan = MergePlanner.plan(inputs.planOptions(spec), inputs.base(), inputs.models(), folderOutput(),
                inputs.notes());
        if (checks == Checks.PLAN) {
            return;
        }
        checkInclude();
        if (checks != Checks.QUIET) {
            plan.notes().forEach(listener::info);
        }
        if (checks == Checks.SCAN) {
            try {
                warnings.addAll(InputScan.run(plan, inputs.base(), inputs.models(), spec.baseStandsIn(),
                        safety.allowNonFinite(), safety.cancellation(), keptChanged));
            } catch (MergeInterruptedException e) {
                throw new MergeInterruptedException("interrupted while checking the inputs; nothing was written");
            }
            warnings.forEach(listener::warning);
        }
    }

    /** Opens the inputs a spec names and makes the checks asked for; a refusal closes what was opened. */
    public static MergeSession open(MergeSpec spec, MergeListener listener, Merger.Safety safety, Checks checks)
            throws IOException {
        Inputs inputs = Inputs.open(spec);
        try {
            return new MergeSession(spec, listener == null ? new MergeListener() { } : listener, safety, inputs,
                    checks);
        } catch (IOException | RuntimeException e) {
            inputs.close();
            throw e;
        }
    }

    public MergeSpec spec() {
        return spec;
    }

    public MergePlan plan() {
        return plan;
    }

    public Checkpoint base() {
        return inputs.base();
    }

    public List<Checkpoint> models() {
        return inputs.models();
    }

    /** The adapters among the models (null where a model is a full checkpoint). */
    public List<LoraAdapter> adapters() {
        return inputs.adapters();
    }

    MergeListener listener() {
        return listener;
    }

    Merger.Safety safety() {
        return safety;
    }

    /** What the scan of the inputs warned of (empty where it did not run). */
    public List<String> warnings() {
        return Collections.unmodifiableList(warnings);
    }

    /** Tensors --rest base keeps although a fine-tune changed them, as the scan found them. */
    List<String> keptChanged() {
        return keptChanged;
    }

    /** Whether the output is a folder: the base's kind, and always for an adapter. */
    boolean folderOutput() {
        return inputs.base().isFolder() || spec.asAdapter() != null;
    }

    /** The job of one planned tensor: the base's tensor (or, for a head taken from a model, that model's). */
    TensorJob job(MergePlan.Entry e) {
        TensorRef base = e.base() != null ? e.base() : e.sources().get(0);
        return new TensorJob(e.name(), base, e.sources(), e.outDType(), e.layout(), e.models(),
                spec.parameters().forTensor(e.name()));
    }

    /**
     * What identifies this merge for --resume: every option that decides the output's bytes as the command line
     * spells it, the CPU thread count (OpenBLAS may sum in another order with another count), the backend, and every
     * input file's path, size and modification time.
     */
    Map<String, String> fingerprint(String backendName) throws IOException {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("journal", "2");
        f.put("out", spec.out().toAbsolutePath().normalize().toString());
        // named and spelled as the command line takes them, so that a refused resume names what changed
        spec.settings(MergeOption.Effect.OUTPUT, MergeOption.Effect.FINGERPRINT).forEach((o, v) -> f.put(o.name(), v));
        f.put("--threads", String.valueOf(spec.threads() > 0 ? spec.threads()
                : Runtime.getRuntime().availableProcessors()));
        f.put("seed", String.valueOf(spec.parameters().seed()));
        if (spec.config() != null) {
            f.put("config", String.valueOf(spec.config().normalizedYaml()));   // per-tensor parameters too
        }
        f.put("backend", backendName);
        List<Checkpoint> all = new ArrayList<>();
        all.add(base());
        all.addAll(models());
        for (int i = 0; i < all.size(); i++) {
            String who = i == 0 ? "base" : "model " + i;
            List<Path> files = i > 0 ? modelFiles.get(i - 1) : all.get(i).weightFiles();  // an adapter's config too
            for (int j = 0; j < files.size(); j++) {
                Path p = files.get(j).toAbsolutePath().normalize();
                f.put(who + (files.size() > 1 ? " file " + j : ""), p + " (" + Files.size(p) + " bytes, modified "
                        + Files.getLastModifiedTime(p).toMillis() + ")");
            }
        }
        return f;
    }

    /**
     * The stored tensors read for the plan's entries that {@code which} accepts, by file: each entry's base tensor
     * and its models' (what computing or checking it reads); {@code asWritten}: as a merge writes them, so only the
     * base's where the output copies it, and the task heads it saves besides.
     */
    Map<Path, Set<String>> storedReads(Predicate<String> which, boolean asWritten) {
        Map<Path, Set<String>> out = new LinkedHashMap<>();
        for (MergePlan.Entry e : plan.entries()) {
            if (!which.test(e.name())) {
                continue;
            }
            addSource(out, e.base());
            // the base's bytes alone where the output copies them (as the rules pick BaseCopy)
            boolean baseOnly = asWritten && !e.grown() && (e.action() == MergePlan.Action.COPY
                    || (e.action() == MergePlan.Action.REST && (spec.rest() == RestPolicy.BASE
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
        return out;
    }

    private static void addSource(Map<Path, Set<String>> out, TensorRef r) {
        if (r != null && r.file() != null) {
            out.computeIfAbsent(r.file().path().toAbsolutePath().normalize(), k -> new LinkedHashSet<>()).add(r.name());
        }
    }

    /**
     * A model given twice would count twice in every method: refused. One model where the method makes that model
     * of it: warned, with what to do instead.
     */
    private void checkModelCount(boolean warn) {
        Set<Path> seen = new HashSet<>();
        for (Path p : spec.models()) {
            if (!seen.add(p.toAbsolutePath().normalize())) {
                throw new OptionException("--model " + p + " is given twice; each fine-tune counts once");
            }
        }
        if (warn && spec.models().size() == 1 && spec.method().oneModelWarning() != null) {
            listener.warning(spec.method().oneModelWarning());
        }
    }

    /** --as-adapter writes an adapter, which only adapters can make exactly: refuses full checkpoints among the models. */
    private void checkAdapterOutput() {
        if (spec.asAdapter() == null) {
            return;
        }
        for (int i = 0; i < models().size(); i++) {
            if (adapters().get(i) == null) {
                throw new OptionException("--as-adapter needs every --model to be a PEFT LoRA adapter folder, but "
                        + MergePlanner.who(models(), i) + " is a full checkpoint; drop --as-adapter to write a full"
                        + " merged model");
            }
        }
    }

    /** --include that gives the method no tensor is a mistake the user should hear about, not a copy of the base. */
    private void checkInclude() {
        if (spec.include() != null && plan.methodCount() == 0) {
            throw new OptionException("--include " + spec.include().pattern() + " matches no tensor the method can"
                    + " take (of the base's " + plan.entries().size() + "; `wudi plan` lists them with their roles)");
        }
    }

    @Override
    public void close() {
        inputs.close();
    }
}
