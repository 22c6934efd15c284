package dev.wudi.merge;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.backend.cpu.CpuBackend;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.checkpoint.TensorRef;
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
import java.util.stream.Stream;

/**
 * The merge as a sequence of per-tensor steps (load, merge, save), streaming one tensor at a time
 * across the base and the n models so that memory is bounded by a few tensors, never by the model.
 */
public final class Merger {

    private final MergeOptions options;
    private final Backend backend;
    private final MergeListener listener;

    public Merger(MergeOptions options, Backend backend, MergeListener listener) {
        this.options = options;
        this.backend = backend;
        this.listener = listener == null ? new MergeListener() { } : listener;
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
            checkOutput(base, models);
            List<String> warnings = Preflight.check(base, models);
            warnings.forEach(listener::warning);
            return merge(base, models, warnings, start);
        } finally {
            opened.forEach(Checkpoint::close);
        }
    }

    /** --out may not be an input, lie inside one, or hold one; an existing one needs --force. */
    private void checkOutput(Checkpoint base, List<Checkpoint> models) throws IOException {
        Path out = options.out().toAbsolutePath().normalize();
        List<Path> inputs = new ArrayList<>();
        inputs.add(base.path());
        models.forEach(m -> inputs.add(m.path()));
        for (Path in : inputs) {
            Path p = in.toAbsolutePath().normalize();
            if (out.equals(p) || out.startsWith(p) || p.startsWith(out)) {
                throw new CheckpointException("--out " + options.out() + " overlaps the input " + in
                        + "; choose another output path (inputs are never modified)");
            }
        }
        if (!base.isFolder() && Files.isDirectory(out)) {
            throw new CheckpointException("--out " + options.out() + " is a folder, but the base is a single file;"
                    + " give a file name such as merged.safetensors");
        }
        if (Files.exists(out) && !options.force()) {
            boolean emptyDir = false;
            if (Files.isDirectory(out)) {
                try (Stream<Path> s = Files.list(out)) {
                    emptyDir = s.findAny().isEmpty();
                }
            }
            if (!emptyDir) {
                throw new CheckpointException("--out " + options.out() + " already exists; pass --force to replace it");
            }
        }
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
        try (CheckpointWriter writer = CheckpointWriter.create(options.out(), base.isFolder(), specs, metadata,
                options.shardBytes(), base.companionFiles())) {
            for (int index = 0; index < specs.size(); index++) {
                TensorSpec spec = specs.get(index);
                String name = spec.name();
                TensorRule rule = rules.get(name);
                TensorJob job = job(base, models, spec);
                if (rule instanceof WudiRule wudi) {
                    wudi.upcoming(nextJobOf(rule, rules, specs, index, base, models));
                }
                listener.tensorStarted(index, name, rule.label());
                long t0 = System.nanoTime();
                CountingSink sink = new CountingSink(writer, spec.dtype());
                TensorOutcome outcome;
                try {
                    outcome = rule.apply(job, sink);
                } catch (IllegalArgumentException e) {
                    throw new CheckpointException(e.getMessage());
                }
                if (sink.bytes != spec.byteSize()) {
                    throw new IllegalStateException("rule " + rule.label() + " wrote " + sink.bytes + " bytes for "
                            + name + ", expected " + spec.byteSize());
                }
                outputBytes += sink.bytes;
                TensorRecord rec = new TensorRecord(name, rule.label(), spec.shape(), spec.dtype().name(),
                        outcome.lossBefore(), outcome.lossAfter(), (System.nanoTime() - t0) / 1e9, outcome.details());
                records.add(rec);
                listener.tensorDone(rec, work(job.info(), rule));
            }
            writer.commit();
        } finally {
            if (methodRule instanceof WudiRule wudi) {
                wudi.close();
            }
        }
        String device = wudiBackend == backend ? backend.name() : backend.name() + " (WUDI on " + wudiBackend.name() + ")";
        return new MergeReport(options.method().name(), device, options.out().toString(), records,
                warnings, (System.nanoTime() - start) / 1e9, outputBytes);
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
            return new WudiRule(wudiBackend, () -> Backends.cpu(threads), options.effectiveSolver(), options.autoLr(),
                    (t, loss) -> listener.step(t, iters), listener::warning);
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

    /** Forwards to the writer and counts bytes, so a rule that writes too little or too much is caught. */
    private static final class CountingSink implements TensorSink {
        private final CheckpointWriter writer;
        private final int elementBytes;
        long bytes;

        CountingSink(CheckpointWriter writer, DType dtype) {
            this.writer = writer;
            this.elementBytes = dtype.bytes();
        }

        @Override
        public void writeFloats(float[] src, int off, int count) throws IOException {
            writer.writeFloats(src, off, count, elementBytes);
            bytes += (long) count * elementBytes;
        }

        @Override
        public void writeRaw(ByteBuffer b) throws IOException {
            bytes += b.remaining();
            writer.write(b);
        }
    }
}
