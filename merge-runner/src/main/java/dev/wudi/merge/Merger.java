package dev.wudi.merge;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Placement;
import dev.wudi.checkpoint.OutputGuard;
import dev.wudi.method.MergeMethods;
import dev.wudi.spec.MergeSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A merge in one process: its inputs opened, checked and planned once ({@link MergeSession}), every tensor computed
 * by its rule ({@link TensorRules}) in one loop ({@link TensorLoop}) and written as a checkpoint
 * ({@link CheckpointOutput}) or an adapter ({@link AdapterMerge}), one tensor at a time, so that memory is bounded by
 * a few tensors, never by the model. {@link DistributedMerge} runs the same merge in pieces.
 */
public final class Merger {

    private final MergeSpec spec;
    private final Backend backend;
    private final MergeListener listener;
    private final Safety safety;

    /**
     * How a merge protects its inputs and output beyond its spec.
     *
     * @param resume         continue the partial output an interrupted run with the same fingerprint left
     * @param allowNonFinite merge inputs holding NaN/Inf (warned) instead of failing
     * @param cancellation   set from another thread (a signal) to stop at the next safe point
     * @param alsoWritten    paths the caller writes besides --out (reports, parts): checked with it, before anything
     *                       is merged, by the same rules
     * @param alsoRead       inputs besides the checkpoints (a config file): never written
     */
    public record Safety(boolean resume, boolean allowNonFinite, Cancellation cancellation,
                         List<OutputGuard.Target> alsoWritten, List<Path> alsoRead) {
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

    /**
     * Tensors merged elsewhere ({@link DistributedMerge#computePart}): for each name, the part file holding its bytes
     * as this merge would write them, and its report record; written instead of computed, so a merge computed in
     * pieces is the same file as one computed here.
     *
     * @param inputsChecked the inputs were scanned already: not again
     * @param inputWarnings what that scan reported of the inputs (the report keeps them)
     */
    public record Precomputed(Map<String, Path> files, Map<String, String> records, boolean inputsChecked,
                              List<String> inputWarnings) {
        public Precomputed {
            inputWarnings = List.copyOf(inputWarnings);
        }

        public Precomputed(Map<String, Path> files, Map<String, String> records, boolean inputsChecked) {
            this(files, records, inputsChecked, List.of());
        }
    }

    public Merger(MergeSpec spec, Backend backend, MergeListener listener) {
        this(spec, backend, listener, Safety.defaults());
    }

    public Merger(MergeSpec spec, Backend backend, MergeListener listener, Safety safety) {
        this.spec = spec;
        this.backend = backend;
        this.listener = listener == null ? new MergeListener() { } : listener;
        this.safety = safety;
    }

    /** Checks, plans, scans the inputs, merges and writes the output; the report. */
    public MergeReport run() throws IOException {
        long start = System.nanoTime();
        try (MergeSession s = MergeSession.open(spec, listener, safety, MergeSession.Checks.SCAN)) {
            List<String> warnings = new ArrayList<>(s.warnings());
            try (Run run = Run.on(s, backend, warnings)) {
                if (spec.asAdapter() != null) {
                    return AdapterMerge.write(s, run.rules(), run.loop(), warnings, start);
                }
                return CheckpointOutput.write(s, run.rules(), run.loop(), backend.name(), safety.resume(), warnings,
                        start);
            }
        }
    }

    /**
     * The plan of this merge without merging: hands the plan to {@code use} while the inputs are open. Nothing is read
     * beyond the headers and config.json files; nothing is written.
     */
    public <T> T plan(Function<MergePlan, T> use) throws IOException {
        try (MergeSession s = MergeSession.open(spec, listener, safety, MergeSession.Checks.PLAN)) {
            return use.apply(s.plan());
        }
    }

    /** The method with its solver and settings, as reports and the model card name it. */
    public String methodDescription() {
        return TensorRules.describe(spec);
    }

    /**
     * The rules and the loop of one merge on its backend: WUDI placed (a solver the device lacks moves to the CPU,
     * with the one line that says so), the placement's CPU closed with it.
     */
    static final class Run implements AutoCloseable {
        private final Placement placement;
        private final TensorRules rules;
        private final TensorLoop loop;

        private Run(Placement placement, TensorRules rules, TensorLoop loop) {
            this.placement = placement;
            this.rules = rules;
            this.loop = loop;
        }

        /** @param warnings receives the placement's note, which the listener hears too */
        static Run on(MergeSession s, Backend backend, List<String> warnings) {
            return on(s, backend, warnings, null);
        }

        static Run on(MergeSession s, Backend backend, List<String> warnings, Precomputed parts) {
            Placement placement = new Placement(backend, s.spec().threads());
            try {
                Placement.Placed wudi = s.spec().method() == MergeMethods.WUDI
                        ? placement.forSolver(s.spec().effectiveSolver()) : new Placement.Placed(backend, null);
                if (wudi.note() != null) {
                    warnings.add(wudi.note());
                    s.listener().warning(wudi.note());
                }
                TensorRules rules = new TensorRules(s, backend, wudi.backend(), placement);
                return new Run(placement, rules, new TensorLoop(s, rules, parts));
            } catch (RuntimeException e) {
                placement.close();
                throw e;
            }
        }

        TensorRules rules() {
            return rules;
        }

        TensorLoop loop() {
            return loop;
        }

        @Override
        public void close() {
            try {
                rules.close();
            } finally {
                placement.close();                     // the CPU it opened for this merge, if any
            }
        }
    }
}
