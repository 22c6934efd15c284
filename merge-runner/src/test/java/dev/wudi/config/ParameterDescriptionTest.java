package dev.wudi.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.method.FixedParameters;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.MethodSettings;
import dev.wudi.method.ParameterSource;
import dev.wudi.method.TensorRule;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A method as applied, in the reports' words: the settings a config gives for every model and tensor replace the
 * merge's own in the description (a ties config with per-model density 0.5 never reads "density 1.0"), and what the
 * config gives is named per model.
 */
class ParameterDescriptionTest {

    private static final ParamSetting HALF = new ParamSetting.Scalar(0.5);
    private static final ParamSetting ONE = new ParamSetting.Scalar(1.0);

    /** The merge's own settings: mergekit's ties defaults (density 1, lambda 1), as a config merge has them. */
    private static MethodSettings settings(ParameterSource p) {
        return new MethodSettings() {
            @Override
            public double scale() {
                return 1.0;
            }

            @Override
            public double density() {
                return 1.0;
            }

            @Override
            public long seed() {
                return p.seed();
            }

            @Override
            public TensorRule wudi() {
                throw new AssertionError("a description builds no rule");
            }

            @Override
            public String solverDescription() {
                return "";
            }

            @Override
            public ParameterSource parameters() {
                return p;
            }
        };
    }

    private static String ties(Map<String, ParamSetting> global, List<Map<String, ParamSetting>> perModel) {
        return MergeMethods.TIES.describe(settings(new ConfigParameters(global, perModel, 2, 0)));
    }

    @Test
    void perModelValuesGivenForEveryModelReplaceTheMergesOwn() {
        String d = ties(Map.of(), List.of(Map.of("density", HALF, "weight", ONE), Map.of("density", HALF, "weight",
                ONE)));
        assertEquals("ties (scale 1.0; model 1: density 0.5, weight 1.0; model 2: density 0.5, weight 1.0)", d);
        assertFalse(d.contains("density 1.0"), d);
    }

    @Test
    void aGlobalValueReplacesTheMergesOwnToo() {
        assertEquals("task-arithmetic (lambda 0.6; model 1: weight 1.0; model 2: weight 0.5)",
                MergeMethods.TASK_ARITHMETIC.describe(settings(new ConfigParameters(Map.of("lambda",
                        new ParamSetting.Scalar(0.6)), List.of(Map.of("weight", ONE), Map.of("weight",
                        new ParamSetting.Scalar(0.5))), 2, 0))));
    }

    @Test
    void aValueSomeModelsOrTensorsLackKeepsTheMergesOwnForThem() {
        // model 2 has no density: the merge's 1.0 applies to it, and the description says both
        assertEquals("ties (density 1.0, scale 1.0; model 1: density 0.5, weight 1.0; model 2: weight 1.0)",
                ties(Map.of(), List.of(Map.of("density", HALF, "weight", ONE), Map.of("weight", ONE))));
        // a filtered list that matches only the MLP leaves the others at the merge's value
        ParamSetting mlpOnly = new ParamSetting.Conditional(List.of(new ParamSetting.Condition("mlp", HALF)));
        ConfigParameters partly = new ConfigParameters(Map.of("density", mlpOnly), List.of(Map.of(), Map.of()), 2, 0);
        assertFalse(partly.givesEverywhere("density"));
        assertEquals("ties (density 1.0, scale 1.0; density {mlp: 0.5})", MergeMethods.TIES.describe(settings(partly)));
        ParamSetting withDefault = new ParamSetting.Conditional(List.of(new ParamSetting.Condition("mlp", HALF),
                new ParamSetting.Condition("*", ONE)));
        assertTrue(new ConfigParameters(Map.of("density", withDefault), List.of(), 2, 0).givesEverywhere("density"));
    }

    @Test
    void flagsReadAsTrueOrFalse() {
        assertEquals("ties (density 1.0, scale 1.0; normalize false, rescale true)", ties(Map.of("normalize",
                new ParamSetting.Scalar(0), "rescale", ONE), List.of()));
    }

    @Test
    void gradientsAndTheSeedAreNamed() {
        ConfigParameters p = new ConfigParameters(Map.of(), List.of(Map.of("density",
                new ParamSetting.Gradient(new double[] {1, 0.7, 0.2}), "weight", ONE), Map.of("density", HALF,
                "weight", ONE)), 2, 7);
        assertEquals("dare-ties (scale 1.0, seed 7; model 1: density [1.0, 0.7, 0.2], weight 1.0; model 2: density"
                + " 0.5, weight 1.0)", MergeMethods.byName("dare-ties").describe(settings(p)));
    }

    @Test
    void withoutParametersTheDescriptionIsTheMergesOwn() {
        assertEquals("ties (density 1.0, scale 1.0)", MergeMethods.TIES.describe(settings(ParameterSource.NONE)));
        assertEquals("average", MergeMethods.AVERAGE.describe(settings(ParameterSource.NONE)));
        assertEquals("lambda", MergeMethod.configName("scale"));
    }

    @Test
    void theCommandLinesTIsNamedAndReplacesNoListedSetting() {
        FixedParameters t = new FixedParameters(Map.of("t", 0.3), 0);
        assertEquals("slerp (t 0.3)", MergeMethods.byName("slerp").describe(settings(t)));
        assertFalse(t.givesEverywhere("t"), "--t is an option of its own: the reports list it as given");
    }
}
