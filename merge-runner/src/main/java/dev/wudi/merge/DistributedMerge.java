package dev.wudi.merge;

import dev.wudi.backend.Backend;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.method.TensorOutcome;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A merge computed in pieces, as a cluster runs it: the driver checks and plans it ({@link #validate}, or
 * {@link #checkWithoutScan} where executors scan the values in pieces, {@link #scanPart}, and the driver concludes
 * once, {@link #concludeScan}); executors compute groups of the method's tensors into part files
 * ({@link #computePart}); the driver writes the output from the parts and computes the rest itself
 * ({@link #writeFromParts}), the same bytes as a merge in one process. What each step reads of the inputs is known
 * from headers alone ({@link #sourcesOf}, {@link #sourcesOfAllBut}), for inputs on remote storage.
 */
public final class DistributedMerge {

    /** A tensor the method computes, as the driver deals them out: its name and its estimated work (flops). */
    public record MethodTensor(String name, double work) {
    }

    /** What {@link #checkWithoutScan} plans: the method's tensors, and those the scan reads with the bytes it reads. */
    public record Planned(List<MethodTensor> method, List<MethodTensor> scanned) {
    }

    /** One tensor of a part file: its name and its report record (JSON, as the resume journal keeps it). */
    public record PartTensor(String name, String record) implements java.io.Serializable {
    }

    private final MergeSpec spec;
    private final Backend backend;
    private final MergeListener listener;
    private final Merger.Safety safety;
    /** What the scan of the inputs found --rest base keeps although changed, for the output's report. */
    private List<String> keptChanged = List.of();

    /** @param backend where executors compute (null on a driver that only checks and scans) */
    public DistributedMerge(MergeSpec spec, Backend backend, MergeListener listener, Merger.Safety safety) {
        this.spec = spec;
        this.backend = backend;
        this.listener = listener == null ? new MergeListener() { } : listener;
        this.safety = safety;
    }

    private MergeSession open(MergeSession.Checks checks) throws IOException {
        return MergeSession.open(spec, listener, safety, checks);
    }

    /**
     * Every check a merge makes before writing, the scan of the inputs included, without writing anything: the tensors
     * the method computes, in output order, so that a bad input fails before any executor works.
     *
     * @param warnings receives the warnings the merge would print
     */
    public List<MethodTensor> validate(List<String> warnings) throws IOException {
        try (MergeSession s = open(MergeSession.Checks.SCAN)) {
            warnings.addAll(s.warnings());
            keptChanged = List.copyOf(s.keptChanged());
            return methodTensors(s);
        }
    }

    /** Every check of {@link #validate} but the scan of the values: only headers are read. */
    public Planned checkWithoutScan() throws IOException {
        try (MergeSession s = open(MergeSession.Checks.SAY)) {
            List<MethodTensor> scanned = new ArrayList<>();
            for (MergePlan.Entry e : s.plan().entries()) {
                if (e.action() != MergePlan.Action.COPY && (e.base() == null || e.base().info().dtype().mergeable())) {
                    long bytes = e.base() == null ? 0 : e.base().info().byteSize();
                    for (TensorRef r : e.sources()) {
                        bytes += r.info().byteSize();
                    }
                    scanned.add(new MethodTensor(e.name(), bytes));
                }
            }
            return new Planned(methodTensors(s), scanned);
        }
    }

    /** The scan of the inputs over the named tensors only, recorded for {@link #concludeScan}. */
    public InputScan.Findings scanPart(Collection<String> names) throws IOException {
        Set<String> want = new HashSet<>(names);
        try (MergeSession s = open(MergeSession.Checks.QUIET)) {
            return InputScan.scan(s.plan(), s.models().size(), want::contains, !safety.allowNonFinite(),
                    safety.cancellation());
        }
    }

    /**
     * The verdict of the scan over all its pieces: a non-finite value fails (unless allowed), and the warnings are
     * said and returned; what --rest base keeps although changed goes to {@link #writeFromParts}'s report.
     */
    public List<String> concludeScan(List<InputScan.Findings> pieces) throws IOException {
        try (MergeSession s = open(MergeSession.Checks.QUIET)) {
            List<String> kept = new ArrayList<>();
            List<String> warnings = InputScan.conclude(pieces, s.base(), s.models(), s.spec().baseStandsIn(),
                    safety.allowNonFinite(), kept);
            keptChanged = List.copyOf(kept);
            warnings.forEach(listener::warning);
            return warnings;
        }
    }

    /**
     * Computes the named tensors (each one the method computes) into a safetensors file at {@code part}, exactly as a
     * merge in one process writes them (same rules, same encoding), and returns their report records. The inputs are
     * not scanned (the driver did); nothing else is written.
     */
    public List<PartTensor> computePart(Collection<String> names, Path part) throws IOException {
        if (spec.asAdapter() != null) {
            throw new OptionException("--as-adapter writes an adapter folder in one process; it cannot be merged in"
                    + " parts");
        }
        Set<String> wanted = new LinkedHashSet<>(names);
        try (MergeSession s = open(MergeSession.Checks.QUIET);
             Merger.Run run = Merger.Run.on(s, backend, new ArrayList<>())) {
            List<MergePlan.Entry> entries = s.plan().entries();
            List<TensorSpec> specs = TensorLoop.specs(s.plan());
            List<Integer> indices = new ArrayList<>();
            for (int i = 0; i < entries.size(); i++) {
                if (wanted.contains(entries.get(i).name())) {
                    if (entries.get(i).action() != MergePlan.Action.METHOD || entries.get(i).grown()) {
                        throw new IllegalArgumentException("tensor " + entries.get(i).name() + " is not one the method"
                                + " computes; a part holds only those");
                    }
                    indices.add(i);
                }
            }
            if (indices.size() != wanted.size()) {
                indices.forEach(i -> wanted.remove(entries.get(i).name()));
                throw new IllegalArgumentException("the merge's plan has no tensor " + wanted.iterator().next());
            }
            List<TensorSpec> partSpecs = new ArrayList<>();
            indices.forEach(i -> partSpecs.add(specs.get(i)));
            List<PartTensor> out = new ArrayList<>();
            try (SafetensorsWriter w = SafetensorsWriter.create(part, partSpecs, Map.of())) {
                run.loop().run(indices, new PartFile(w, part, out));
                w.finish();
            }
            return List.copyOf(out);
        }
    }

    /** A part file as the loop's target: the tensors in order, each record kept as JSON. */
    private record PartFile(SafetensorsWriter writer, Path file, List<PartTensor> records) implements TensorLoop.Target {
        @Override
        public TensorLoop.TensorOut out(int index, MergePlan.Entry e, TensorSpec spec) {
            return new TensorLoop.TensorOut() {
                @Override
                public void writeFloats(float[] src, int off, int count, int elementBytes) throws IOException {
                    writer.writeFloats(src, off, count);
                }

                @Override
                public void write(ByteBuffer bytes) throws IOException {
                    writer.write(bytes);
                }

                @Override
                public IOException failed(String doing, IOException e) {
                    return new IOException(file + ": " + doing + " failed: " + e.getMessage(), e);
                }
            };
        }

        @Override
        public TensorRecord done(int index, MergePlan.Entry e, TensorRecord record, TensorOutcome outcome) {
            records.add(new PartTensor(e.name(), TensorLoop.toJson(record).toString()));
            return record;
        }
    }

    /**
     * Writes the output: the tensors merged elsewhere from their parts (byte for byte), every other one computed here,
     * as a merge in one process would; the inputs are not scanned again where {@link #validate} or
     * {@link #concludeScan} did.
     */
    public MergeReport writeFromParts(Merger.Precomputed parts) throws IOException {
        long start = System.nanoTime();
        MergeSession.Checks checks = parts.inputsChecked() ? MergeSession.Checks.QUIET : MergeSession.Checks.SCAN;
        try (MergeSession s = open(checks)) {
            List<String> warnings = new ArrayList<>(parts.inputsChecked() ? parts.inputWarnings() : s.warnings());
            if (parts.inputsChecked()) {
                s.keptChanged().addAll(keptChanged);
            }
            try (Merger.Run run = Merger.Run.on(s, backend, warnings, parts)) {
                return CheckpointOutput.write(s, run.rules(), run.loop(), backend.name(), resumesOutput(), warnings,
                        start);
            }
        }
    }

    /**
     * Whether the output's partial is resumed: --resume, where a partial output exists (a distributed merge resumes
     * its computed parts; without a partial output the output is written afresh).
     */
    private boolean resumesOutput() {
        return safety.resume() && java.nio.file.Files.exists(dev.wudi.checkpoint.CheckpointWriter.partialPath(
                spec.out()));
    }

    /**
     * The stored input tensors that {@link #computePart}{@code (names, ...)} reads, by file (absolute, normalised): of
     * each named tensor, the base's and every taking part model's. Only the headers are read. Tensors computed from
     * other files (a LoRA adapter's factors) are not listed: their files are read whole.
     */
    public Map<Path, Set<String>> sourcesOf(Collection<String> names) throws IOException {
        Set<String> want = new HashSet<>(names);
        try (MergeSession s = open(MergeSession.Checks.QUIET)) {
            return s.storedReads(want::contains, false);
        }
    }

    /**
     * The stored input tensors {@link #writeFromParts} reads when the named tensors come from parts: of every other
     * tensor of the plan, the base's and every taking part model's, and the task heads it saves.
     */
    public Map<Path, Set<String>> sourcesOfAllBut(Collection<String> precomputed) throws IOException {
        Set<String> skip = new HashSet<>(precomputed);
        try (MergeSession s = open(MergeSession.Checks.QUIET)) {
            return s.storedReads(name -> !skip.contains(name), true);
        }
    }

    /** The tensors the method computes, in output order, with their estimated work (flops). */
    private List<MethodTensor> methodTensors(MergeSession s) {
        List<MethodTensor> out = new ArrayList<>();
        for (MergePlan.Entry e : s.plan().entries()) {
            if (e.action() == MergePlan.Action.METHOD && !e.grown()) {
                out.add(new MethodTensor(e.name(), CostModel.of(e, spec, CostModel.NOMINAL_FLOPS,
                        CostModel.NOMINAL_READ_BYTES).flops()));
            }
        }
        return out;
    }
}
