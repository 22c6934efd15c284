package dev.wudi.merge;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Placement;
import dev.wudi.method.Average;
import dev.wudi.method.BaseCopy;
import dev.wudi.method.GrownRows;
import dev.wudi.method.InterferenceScore;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.MethodSettings;
import dev.wudi.method.ModelCopy;
import dev.wudi.method.TaskArithmetic;
import dev.wudi.method.TensorRule;
import dev.wudi.method.WudiRule;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.StepListener;
import dev.wudi.spec.LossScoring;
import dev.wudi.spec.MergeSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The rule of every tensor of a merge: the method's on the tensors it takes (WUDI's on the backend the placement chose,
 * with steps reported and interruptions honoured), the rest policy's, copies of the base or of a model, and rows a
 * vocabulary grew by; and the dealer of WUDI's tensors over several devices. Closing it releases what the rules hold.
 */
final class TensorRules implements AutoCloseable {

    private final MergeSession session;
    private final MergeSpec spec;
    private final Backend backend;
    private final Backend wudiBackend;
    private final Placement placement;
    private final TensorRule methodRule;
    private final TensorRule restRule;
    private final TensorRule copy = new BaseCopy();
    private final TensorRule fromModel = new ModelCopy();
    private final TensorRule scoredRule;
    private DeviceDealer dealer;

    /**
     * @param wudiBackend where the placement put WUDI's tensors (the backend, or the CPU for a solver it lacks)
     */
    TensorRules(MergeSession session, Backend backend, Backend wudiBackend, Placement placement) {
        this.session = session;
        this.spec = session.spec();
        this.backend = backend;
        this.wudiBackend = wudiBackend;
        this.placement = placement;
        this.methodRule = spec.method().rule(settings(spec, () -> wudiRule(wudiBackend, true)));
        this.restRule = restRule(spec);
        this.scoredRule = scoring() ? new InterferenceScore(methodRule) : null;
    }

    /** The method's settings for its rule; {@code wudi} builds WUDI's rule (not called for a description). */
    static MethodSettings settings(MergeSpec spec, java.util.function.Supplier<TensorRule> wudi) {
        return new MethodSettings() {
            @Override
            public double scale() {
                return spec.effectiveScale();
            }

            @Override
            public double density() {
                return spec.effectiveDensity();
            }

            @Override
            public long seed() {
                return spec.parameters().seed();
            }

            @Override
            public TensorRule wudi() {
                return wudi.get();
            }

            @Override
            public dev.wudi.method.ParameterSource parameters() {
                return spec.parameters();
            }

            @Override
            public boolean scaleAuto() {
                return spec.scaleAuto();
            }

            @Override
            public String solverDescription() {
                SolverSpec s = spec.effectiveSolver();
                return s instanceof SolverSpec.Adam && spec.autoLr() != null ? "adam lr " + spec.autoLr()
                        .describe() + ", " + spec.adam().iterations() + " steps" : s.describe();
            }
        };
    }

    /** The method with its solver and settings, as reports and the model card name it. */
    static String describe(MergeSpec spec) {
        return spec.method().describe(settings(spec, () -> {
            throw new IllegalStateException("a description builds no rule");
        }));
    }

    /** The rule of one planned tensor. */
    TensorRule of(MergePlan.Entry e) {
        TensorRule rule = switch (e.action()) {
            case COPY -> copy;
            case FROM_MODEL -> fromModel;
            case METHOD -> scoredRule != null && scorable(e) ? scoredRule : methodRule;
            default -> e.models().isEmpty() ? copy : restRule;
        };
        return e.grown() ? new GrownRows(rule, e.outShape()[0]) : rule;
    }

    /** The rule of the tensors the method takes. */
    TensorRule method() {
        return methodRule;
    }

    /** The merge's backend, by name. */
    String backendName() {
        return backend.name();
    }

    /** The backend WUDI runs on, and its name as the report gives it. */
    String device() {
        return wudiBackend == backend ? backend.name() : backend.name() + " (WUDI on " + wudiBackend.name() + ")";
    }

    /** How many tensors the method optimises (WUDI's) and how many it scores with WUDI's loss (another method's). */
    int[] counts(List<TensorRule> rules, List<MergePlan.Entry> entries) {
        int optimised = 0;
        int scored = 0;
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).action() == MergePlan.Action.METHOD && spec.method() == MergeMethods.WUDI) {
                optimised++;
            } else if (rules.get(i) instanceof InterferenceScore) {
                scored++;
            }
        }
        return new int[] {optimised, scored};
    }

    /**
     * The dealer of the WUDI tensors when they run on several devices, or null (one device).
     *
     * @param indices the tensors the loop computes, those of the method's rule dealt out
     */
    DeviceDealer dealer(List<TensorRule> rules, List<MergePlan.Entry> entries, List<Integer> indices) {
        if (wudiBackend.devices().size() < 2 || !(methodRule instanceof WudiRule)) {
            return null;
        }
        List<DeviceDealer.Deal> deals = new ArrayList<>();
        for (int i : indices) {
            if (rules.get(i) == methodRule) {
                deals.add(new DeviceDealer.Deal(i, session.job(entries.get(i)), CostModel.of(entries.get(i), spec,
                        CostModel.NOMINAL_FLOPS, CostModel.NOMINAL_READ_BYTES).flops()));
            }
        }
        dealer = new DeviceDealer(wudiBackend.devices(), deals, b -> wudiRule(b, false), placement,
                this::warningFromWorker);
        return dealer;
    }

    /**
     * WUDI's rule on one device. With steps, each Adam step is reported to the listener; a rule of a device set's
     * worker ({@link DeviceDealer}) reports none (steps of several tensors would interleave) but still stops at an
     * interruption, and its warnings reach the listener one at a time.
     */
    private WudiRule wudiRule(Backend on, boolean steps) {
        int iters = spec.adam().iterations();
        Cancellation cancel = session.safety().cancellation();
        MergeListener listener = session.listener();
        return new WudiRule(on, placement, spec.effectiveSolver(), spec.autoLr(), StepListener.stepsOnly(t -> {
            cancel.check();
            if (steps) {
                listener.step(t, iters);
            }
        }), steps ? listener::warning : this::warningFromWorker, spec.effectiveScale(), spec.scaleAuto());
    }

    private synchronized void warningFromWorker(String line) {
        session.listener().warning(line);
    }

    private static TensorRule restRule(MergeSpec spec) {
        return switch (spec.rest()) {
            case AVERAGE -> new Average();
            case TASK_ARITHMETIC -> new TaskArithmetic(spec.method() == MergeMethods.TASK_ARITHMETIC
                    || spec.scale() != null ? spec.effectiveScale() : MergeMethods.TASK_ARITHMETIC.defaultOf("scale"));
            default -> new BaseCopy();
        };
    }

    /**
     * A tensor a method other than WUDI merges on which WUDI's loss is defined and which WUDI would take: a linear
     * weight of the body (not an embedding, a head or a convolution), so that the sum compares with a WUDI merge's.
     */
    private static boolean scorable(MergePlan.Entry e) {
        return e.action() == MergePlan.Action.METHOD && !e.grown() && e.base() != null
                && e.role() == dev.wudi.model.TensorRole.LINEAR && e.layout() != dev.wudi.model.Layout.CONV
                && InterferenceScore.applies(e.outShape(), e.layout(), e.models().size());
    }

    /**
     * Whether a method other than WUDI reports WUDI's loss of its result (--interference-loss): always under on;
     * under auto when the estimated cost is small, else one line says what it would cost and how to ask for it.
     */
    private boolean scoring() {
        if (spec.method() == MergeMethods.WUDI || spec.lossScoring() == LossScoring.OFF) {
            return false;
        }
        if (spec.baseStandsIn()) {
            // without a base there are no task vectors: a loss of differences to model 1 would mean nothing
            if (spec.lossScoring() == LossScoring.ON) {
                session.listener().info("WUDI's interference loss is not computed: a merge without a base has no"
                        + " task vectors to measure it on");
            }
            return false;
        }
        double flops = 0;
        int count = 0;
        for (MergePlan.Entry e : session.plan().entries()) {
            if (scorable(e)) {
                flops += InterferenceScore.flops(e.outShape(), e.layout(), e.models().size());
                count++;
            }
        }
        if (count == 0 || spec.lossScoring() == LossScoring.ON) {
            return count > 0;
        }
        double seconds = flops / CostModel.NOMINAL_FLOPS;
        if (seconds <= LossScoring.AUTO_BUDGET_SECONDS) {
            return true;
        }
        session.listener().info("WUDI's interference loss of this " + spec.method().name() + " merge is not computed"
                + " for the report (" + count + " weights, about " + String.format(Locale.ROOT, "%.0f s", seconds)
                + " at nominal CPU rates); --interference-loss on computes it");
        return false;
    }

    @Override
    public void close() {
        if (dealer != null) {
            dealer.close();
            dealer = null;
        }
        if (methodRule instanceof WudiRule wudi) {
            wudi.close();
        }
    }
}
