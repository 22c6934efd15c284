package dev.wudi.cli;

import dev.wudi.backend.Backend;
import dev.wudi.backend.BackendUnavailableException;
import dev.wudi.backend.Backends;
import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.checkpoint.OutputGuard;
import dev.wudi.merge.Cancellation;
import dev.wudi.merge.CostModel;
import dev.wudi.merge.MergeInterruptedException;
import dev.wudi.merge.MergeListener;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.Merger;
import dev.wudi.merge.ReportPage;
import dev.wudi.merge.StepRate;
import dev.wudi.method.MergeMethods;
import dev.wudi.spec.MergeSpec;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * A merge run from a command line: under --dry-run its plan on stdout; else the backend opened, the progress shown
 * (a bar, plain lines or JSON events), SIGINT and SIGTERM turned into a clean stop, the merge computed, and the
 * reports written beside it. What computes the merge is given ({@link Computation}): {@link #IN_ONE_PROCESS} for
 * `wudi merge`, a cluster's driver for `wudi-spark merge`.
 */
public final class MergeRun {

    /** What computes a merge's report (and writes its output), given the run's backend, listener and safety. */
    @FunctionalInterface
    public interface Computation {
        MergeReport compute(MergeSpec spec, Backend backend, MergeListener listener, Merger.Safety safety)
                throws Exception;
    }

    /** The merge in this process ({@link Merger#run()}). */
    public static final Computation IN_ONE_PROCESS = (spec, backend, listener, safety) ->
            new Merger(spec, backend, listener, safety).run();

    private final MergeArgs args;
    private final MergeSpec spec;

    /**
     * @param args the command line (its lines to the user, its config)
     * @param spec the merge it describes (built from it, or from the same text on local copies of remote paths)
     */
    public MergeRun(MergeArgs args, MergeSpec spec) {
        this.args = args;
        this.spec = spec;
    }

    /** The command line's merge in this process: `wudi merge`, `wudi plan`, `wudi mergekit-yaml`. */
    public static int inOneProcess(MergeArgs args) throws Exception {
        MergeSpec spec = args.spec();
        return new MergeRun(args, spec).run(IN_ONE_PROCESS, reports(spec));
    }

    /** --report and --report-html. */
    public static List<OutputGuard.Target> reports(MergeSpec spec) {
        List<OutputGuard.Target> t = new ArrayList<>();
        if (spec.report() != null) {
            t.add(new OutputGuard.Target("--report", spec.report(), OutputGuard.Kind.REPORT_JSON));
        }
        if (spec.reportHtml() != null) {
            t.add(new OutputGuard.Target("--report-html", spec.reportHtml(), OutputGuard.Kind.REPORT_HTML));
        }
        return t;
    }

    /**
     * Runs it and returns the exit code: 0, or {@link Interrupts#EXIT_INTERRUPTED} after a signal.
     *
     * @param alsoWritten every path the command writes besides --out (the reports, a work folder): checked with it
     *                    before the merge, by the same rules
     */
    public int run(Computation computation, List<OutputGuard.Target> alsoWritten) throws Exception {
        boolean quiet = spec.quiet();
        if (spec.dryRun()) {
            return plan();
        }
        if (spec.resume() && Files.exists(spec.out()) && !Files.exists(CheckpointWriter.partialPath(spec.out()))) {
            args.say("--resume: " + spec.out() + " is complete (no partial output is left); nothing to resume");
            return 0;
        }
        Cancellation cancel = new Cancellation();
        Interrupts interrupts = Interrupts.install(cancel, System.err);
        boolean jsonProgress = spec.progressJson();
        List<String> deviceLines = new ArrayList<>();          // a fallback to the CPU, said with the banner
        try (Backend backend = openBackend(deviceLines::add);
             Progress progress = new Progress(System.err, quiet || jsonProgress);
             JsonProgress json = jsonProgress ? new JsonProgress(System.out) : null) {
            Merger.Safety safety = new Merger.Safety(spec.resume(), spec.allowNonFinite(), cancel, alsoWritten,
                    args.config() != null ? List.of(args.config()) : List.of());
            int cores = spec.threads() > 0 ? spec.threads() : Runtime.getRuntime().availableProcessors();
            String banner = "merging " + spec.models().size() + " model" + (spec.models().size() == 1 ? "" : "s")
                    + " into " + spec.out() + " with " + new Merger(spec, backend, null).methodDescription()
                    + " on " + backend.name() + " (" + cores + " CPU thread" + (cores == 1 ? "" : "s") + ")";
            // said once every check has passed (as the merge starts), never before a refusal
            MergeListener listener = new Announcing(jsonProgress ? json : progress, () -> {
                deviceLines.forEach(args::say);
                if (!quiet && !jsonProgress) {
                    System.err.println("wudi: " + banner);
                }
            });
            MergeReport r = computation.compute(spec, backend, listener, safety);
            progress.close();
            for (OutputGuard.Target t : reports(spec)) {
                OutputGuard.checkReplaceable(t, spec.force());         // as checked before the merge, once more
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

    /** Prints the plan on stdout (text or JSON); nothing is written. */
    private int plan() throws Exception {
        try (Backend backend = openBackend(args::say)) {
            double rate = spec.method() == MergeMethods.WUDI ? StepRate.flopsPerSecond(backend) : CostModel.NOMINAL_FLOPS;
            Merger merger = new Merger(spec, backend, null);
            String text = merger.plan(p -> {
                PlanPrinter printer = new PlanPrinter(spec, p, merger.methodDescription(), backend.name(), rate);
                try {
                    return spec.json() ? printer.json() : printer.text();
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            System.out.print(text.endsWith("\n") ? text : text + "\n");
            System.out.flush();
        }
        return 0;
    }

    /**
     * A native library that will not load is one line for the user, never a crash.
     *
     * @param say told of a fallback (no GPU: the CPU instead)
     */
    private Backend openBackend(java.util.function.Consumer<String> say) {
        String device = spec.device();
        try {
            return Backends.select(device, spec.threads(), spec.tf32(), say);
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
