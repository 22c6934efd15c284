package dev.wudi.method;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * WUDI-Merging (specification 2): per linear weight, the merged task vector that minimises the data-free
 * interference loss, by the solver the merge runs on its backend. A config gives its solver's settings as global
 * scalars (learning_rate, iterations, ...), mapped onto the command line's by the config reader.
 */
public final class WudiMethod extends MergeMethod {

    WudiMethod() {
        super("wudi", "WUDI-Merging: minimise the data-free interference loss (default: the spectral solver, then"
                + " --scale auto and the models' average for the other tensors; --solver adam: the paper's Adam from"
                + " the sum of task vectors, lr 1e-5, 300 steps, scale 1, the base's other tensors)",
                "Cheng et al., Whoever Started the Interference Should End It, ICML 2025, arXiv:2503.08099",
                List.of(new MethodParam("lr", 1e-5, "Adam learning rate (the paper's 1e-5)"),
                        new MethodParam("iters", 300, "Adam iterations (the paper's 300)"),
                        new MethodParam("scale", 1.0, "the merged weight is W0 + scale * tau_m (1: the paper's, no"
                                + " rescaling, with any --solver; auto, the default merge's: per matrix by coverage)")),
                Scope.LINEAR_WEIGHTS);
    }

    @Override
    public ConfigParams config() {
        // its settings are the solver's options (learning_rate is --lr): the config as run writes those that apply
        return new ConfigParams(Set.of(), Set.of(), Set.of(), Map.of());
    }

    @Override
    public String oneModelWarning() {
        return "one --model: WUDI returns its weights unchanged (tau_m = tau_1 minimises the loss, whose only term is"
                + " zero there) and the rest keeps the base; merge two or more fine-tunes, or use --method"
                + " task-arithmetic --scale S to scale one";
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return s.wudi();
    }

    @Override
    public String describe(MethodSettings s) {
        return "wudi (" + s.solverDescription() + (s.scaleAuto() ? ", scale auto" : s.scale() != 1.0 ? ", scale "
                + s.scale() : "") + ")";
    }
}
