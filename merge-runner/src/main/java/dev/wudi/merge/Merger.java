package dev.wudi.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.backend.WudiProblem;
import dev.wudi.backend.cpu.CpuBackend;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.cuda.CudaException;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.format.TensorInfo;
import dev.wudi.method.Average;
import dev.wudi.method.BaseCopy;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.TaskArithmetic;
import dev.wudi.method.TensorJob;
import dev.wudi.method.TensorOutcome;
import dev.wudi.method.TensorRule;
import dev.wudi.method.TensorSink;
import dev.wudi.method.Ties;
import dev.wudi.method.WudiRule;
import dev.wudi.solver.SolverSpec;
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

    private final MergeOptions options;
    private final Backend backend;
    private final MergeListener listener;
    private final Safety safety;

    /**
     * How a merge protects its inputs and output beyond MergeOptions.
     *
     * @param resume         continue the partial output an interrupted run with the same fingerprint left
     * @param allowNonFinite merge inputs holding NaN/Inf (warned) instead of failing
     * @param cancellation   set from another thread (a signal) to stop at the next safe point
     */
    public record Safety(boolean resume, boolean allowNonFinite, Cancellation cancellation) {
        public static Safety defaults() {
            return new Safety(false, false, new Cancellation());
        }
    }

    public Merger(MergeOptions options, Backend backend, MergeListener listener) {
        this(options, backend, listener, Safety.defaults());
    }

    public Merger(MergeOptions options, Backend backend, MergeListener listener, Safety safety) {
        this.options = options;
        this.backend = backend;
        this.listener = listener == null ? new MergeListener() { } : listener;
        this.safety = safety;
    }

    public MergeReport run() throws IOException {
        long start = System.nanoTime();
        List<Checkpoint> opened = new ArrayList<>();
        try {
            Checkpoint base = Checkpoint.open(options.base());
            opened.add(base);
            List<Checkpoint> models = new ArrayList<>();
            for (Path p : options.models()) {
                Checkpoint m = Checkpoint.open(p);
                opened.add(m);
                models.add(m);
            }
            OutputCheck.check(options, base, models);
            List<String> warnings = new ArrayList<>(Preflight.check(base, models));
            try {
                warnings.addAll(InputScan.run(base, models, safety.allowNonFinite(), safety.cancellation()));
            } catch (MergeInterruptedException e) {
                throw new MergeInterruptedException("interrupted while checking the inputs; nothing was written");
            }
            warnings.forEach(listener::warning);
            return merge(base, models, warnings, start);
        } finally {
            opened.forEach(Checkpoint::close);
        }
    }

    /**
     * What identifies this merge for --resume: every option that changes the output's bytes, the CPU
     * thread count (OpenBLAS may sum in another order with another count), and every input file's path,
     * size and modification time.
     */
    private Map<String, String> fingerprint(Checkpoint base, List<Checkpoint> models) throws IOException {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("journal", "1");
        f.put("out", options.out().toAbsolutePath().normalize().toString());
        f.put("method", options.method().name());
        f.put("scale", String.valueOf(options.effectiveScale()));
        f.put("density", String.valueOf(options.effectiveDensity()));
        f.put("adam", options.adam().toString());
        f.put("solver", String.valueOf(options.effectiveSolver()));
        f.put("auto-lr", String.valueOf(options.autoLr()));
        f.put("include", String.valueOf(options.include()));
        f.put("exclude", String.valueOf(options.exclude()));
        f.put("rest", String.valueOf(options.rest()));
        f.put("dtype", String.valueOf(options.outDType()));
        f.put("shard-size", String.valueOf(options.shardBytes()));
        f.put("backend", backend.name());
        f.put("threads", String.valueOf(options.threads() > 0 ? options.threads()
                : Runtime.getRuntime().availableProcessors()));
        List<Checkpoint> all = new ArrayList<>();
        all.add(base);
        all.addAll(models);
        for (int i = 0; i < all.size(); i++) {
            String who = i == 0 ? "base" : "model " + i;
            List<Path> files = all.get(i).weightFiles();
            for (int j = 0; j < files.size(); j++) {
                Path p = files.get(j).toAbsolutePath().normalize();
                f.put(who + (files.size() > 1 ? " file " + j : ""), p + " (" + Files.size(p) + " bytes, modified "
                        + Files.getLastModifiedTime(p).toMillis() + ")");
            }
        }
        return f;
    }

    private MergeReport merge(Checkpoint base, List<Checkpoint> models, List<String> warnings, long start)
            throws IOException {
        Backend spectralFallback = null;
        boolean spectral = !(options.effectiveSolver() instanceof SolverSpec.Adam) && options.method() == MergeMethods.WUDI;
        String w = null;
        if (spectral && !backend.offersSpectralSolvers() && !(backend instanceof CpuBackend)) {
            // the spectral solvers need an eigendecomposition this backend does not offer: LAPACK on the CPU does
            spectralFallback = Backends.cpu(options.threads());
            w = "--solver " + options.effectiveSolver().name() + " has no implementation on " + backend.name()
                    + " (no eigendecomposition there); WUDI runs on the CPU for this merge";
        } else if (spectral) {
            w = backend.spectralSolversNote();   // e.g. the GPU without cuSOLVER: eigendecompositions on the CPU
        }
        if (w != null) {
            warnings = new ArrayList<>(warnings);
            warnings.add(w);
            listener.warning(w);
        }
        try {
            return merge(base, models, warnings, start, spectralFallback != null ? spectralFallback : backend);
        } finally {
            if (spectralFallback != null) {
                spectralFallback.close();
            }
        }
    }

    private MergeReport merge(Checkpoint base, List<Checkpoint> models, List<String> warnings, long start,
                              Backend wudiBackend) throws IOException {
        TensorSelection selection = options.selection();
        TensorRule methodRule = methodRule(wudiBackend);
        TensorRule restRule = restRule();
        TensorRule copy = new BaseCopy();

        Map<String, TensorRule> rules = new LinkedHashMap<>();
        List<TensorSpec> specs = new ArrayList<>();
        long totalWork = 0;
        for (String name : base.names()) {
            TensorInfo info = base.tensor(name).info();
            TensorRule rule = !info.dtype().mergeable() ? copy : selection.selects(info) ? methodRule : restRule;
            rules.put(name, rule);
            specs.add(new TensorSpec(name, outDType(info), info.shape()));
            totalWork += work(info, rule);
        }
        listener.started(specs.size(), totalWork);

        Map<String, String> metadata = new LinkedHashMap<>(base.metadata());
        List<TensorRecord> records = new ArrayList<>();
        long outputBytes = 0;
        Cancellation cancel = safety.cancellation();
        try (CheckpointWriter writer = CheckpointWriter.create(options.out(), base.isFolder(), specs, metadata,
                options.shardBytes(), base.companionFiles(), fingerprint(base, models), safety.resume(),
                listener::info)) {
            try {
                int skip = writer.resumedCount();
                for (int i = 0; i < skip; i++) {
                    TensorSpec spec = specs.get(i);
                    TensorRecord rec = fromJson(writer.resumedRecord(i), spec);
                    records.add(rec);
                    outputBytes += spec.byteSize();
                    listener.tensorStarted(i, spec.name(), rec.method());
                    listener.tensorDone(rec, work(base.tensor(spec.name()).info(), rules.get(spec.name())));
                }
                for (int index = skip; index < specs.size(); index++) {
                    cancel.check();
                    TensorSpec spec = specs.get(index);
                    TensorRule rule = rules.get(spec.name());
                    if (rule instanceof WudiRule wudi) {
                        // lets an asynchronous backend load the next WUDI tensor while this one solves
                        wudi.upcoming(nextJobOf(rule, rules, specs, index, base, models));
                    }
                    TensorRecord rec = mergeOne(base, models, spec, rule, index, writer);
                    records.add(rec);
                    outputBytes += spec.byteSize();
                    try {
                        writer.tensorDone(index, spec.name(), toJson(rec));
                    } catch (IOException e) {
                        throw writeFailed(writer, "writing tensor " + spec.name(), e);
                    }
                    listener.tensorDone(rec, work(base.tensor(spec.name()).info(), rules.get(spec.name())));
                }
                cancel.check();
                try {
                    writer.commit();
                } catch (IOException e) {
                    throw writeFailed(writer, "finishing the output", e);
                }
            } catch (MergeInterruptedException e) {
                writer.keepPartialOnClose();
                String kept = writer.keepsPartial()
                        ? "; " + writer.completedCount() + " of " + specs.size() + " tensors are kept in "
                        + writer.temporaryPath() + ": rerun the same command with --resume to continue"
                        : "; the temporary output was removed";
                throw new MergeInterruptedException(e.getMessage() + kept);
            }
        } finally {
            if (methodRule instanceof WudiRule wudi) {
                wudi.close();
            }
        }
        String device = wudiBackend == backend ? backend.name() : backend.name() + " (WUDI on " + wudiBackend.name() + ")";
        return new MergeReport(options.method().name(), device, options.out().toString(), records,
                warnings, (System.nanoTime() - start) / 1e9, outputBytes);
    }

    /** Computes and writes one tensor; every failure names the tensor (and the file where there is one). */
    private TensorRecord mergeOne(Checkpoint base, List<Checkpoint> models, TensorSpec spec, TensorRule rule,
                                  int index, CheckpointWriter writer) throws IOException {
        String name = spec.name();
        TensorJob job = job(base, models, spec);
        listener.tensorStarted(index, name, rule.label());
        long t0 = System.nanoTime();
        CountingSink sink = new CountingSink(writer, spec.dtype(), name, safety.cancellation());
        TensorOutcome outcome;
        try {
            outcome = rule.apply(job, sink);
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
        return new TensorRecord(name, rule.label(), spec.shape(), spec.dtype().name(),
                outcome.lossBefore(), outcome.lossAfter(), (System.nanoTime() - t0) / 1e9, outcome.details());
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
        return n;
    }

    private static TensorRecord fromJson(JsonNode n, TensorSpec spec) {
        Map<String, Double> details = new LinkedHashMap<>();
        n.path("details").fields().forEachRemaining(e -> details.put(e.getKey(), e.getValue().asDouble()));
        return new TensorRecord(spec.name(), n.path("method").asText("?"), spec.shape(), spec.dtype().name(),
                n.has("loss_before") ? n.get("loss_before").asDouble() : Double.NaN,
                n.has("loss_after") ? n.get("loss_after").asDouble() : Double.NaN, n.path("seconds").asDouble(),
                details);
    }

    /** A failed write (disk full, I/O error) as one line: the file, what was being written, why. */
    private static IOException writeFailed(CheckpointWriter writer, String doing, IOException e) {
        if (e instanceof java.nio.file.FileSystemException fse && fse.getFile() != null) {
            return e; // already names its file
        }
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new IOException(writer.currentFile() + ": " + doing + " failed: " + why
                + " (is the disk full?); the temporary output was removed", e);
    }

    private static TensorJob job(Checkpoint base, List<Checkpoint> models, TensorSpec spec) {
        List<TensorRef> refs = new ArrayList<>();
        for (Checkpoint m : models) {
            refs.add(m.tensor(spec.name()));
        }
        return new TensorJob(spec.name(), base.tensor(spec.name()), refs, spec.dtype());
    }

    /** The next tensor after index that the same rule computes, or null (for WUDI's overlapped uploads). */
    private static TensorJob nextJobOf(TensorRule rule, Map<String, TensorRule> rules, List<TensorSpec> specs,
                                       int index, Checkpoint base, List<Checkpoint> models) {
        for (int j = index + 1; j < specs.size(); j++) {
            if (rules.get(specs.get(j).name()) == rule) {
                return job(base, models, specs.get(j));
            }
        }
        return null;
    }

    /** Relative cost for the progress bar's ETA: reads for element-wise work, GEMM flops for WUDI. */
    private long work(TensorInfo info, TensorRule rule) {
        long numel = Math.max(1, info.numel());
        long reads = numel * (options.models().size() + 1);
        if (rule instanceof WudiRule) {
            long cols = numel / Math.max(1, info.shape()[0]);
            // Adam: one [rows, cols] x [cols, cols] product per step; spectral: about a dozen such products
            int products = options.effectiveSolver() instanceof SolverSpec.Adam a ? Math.max(1, a.config().iterations()) : 12;
            return reads + numel * cols * products / 64;
        }
        return reads;
    }

    private DType outDType(TensorInfo info) {
        if (!info.dtype().mergeable()) {
            return info.dtype();
        }
        return options.outDType() != null ? options.outDType() : info.dtype();
    }

    private TensorRule methodRule(Backend wudiBackend) {
        String name = options.method().name();
        if (name.equals(MergeMethods.WUDI.name())) {
            int iters = options.adam().iterations();
            int threads = options.threads();
            Cancellation cancel = safety.cancellation();
            return new WudiRule(wudiBackend, () -> Backends.cpu(threads), options.effectiveSolver(), options.autoLr(),
                    WudiProblem.StepListener.stepsOnly(t -> {
                        cancel.check();
                        listener.step(t, iters);
                    }), listener::warning);
        } else if (name.equals(MergeMethods.TASK_ARITHMETIC.name())) {
            return new TaskArithmetic(options.effectiveScale());
        } else if (name.equals(MergeMethods.AVERAGE.name())) {
            return new Average();
        } else if (name.equals(MergeMethods.TIES.name())) {
            return new Ties(options.effectiveDensity(), options.effectiveScale());
        }
        throw new IllegalArgumentException("method " + name + " has no rule");
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
    private static final class CountingSink implements TensorSink {
        private final CheckpointWriter writer;
        private final int elementBytes;
        private final String tensor;
        private final Cancellation cancel;
        long bytes;

        CountingSink(CheckpointWriter writer, DType dtype, String tensor, Cancellation cancel) {
            this.writer = writer;
            this.elementBytes = dtype.bytes();
            this.tensor = tensor;
            this.cancel = cancel;
        }

        @Override
        public void writeFloats(float[] src, int off, int count) throws IOException {
            cancel.check();
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
            bytes += b.remaining();
            try {
                writer.write(b);
            } catch (IOException e) {
                throw writeFailed(e);
            }
        }

        private IOException writeFailed(IOException e) {
            return Merger.writeFailed(writer, "writing tensor " + tensor, e);
        }
    }
}
