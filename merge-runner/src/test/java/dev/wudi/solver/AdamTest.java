package dev.wudi.solver;

import dev.wudi.adam.AdamStepScalars;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** torch.optim.Adam's first steps, written out by hand in double, against the float32 implementation. */
class AdamTest {

    private static final AdamConfig CFG = new AdamConfig(1e-3f, 0.9f, 0.999f, 1e-8f, 3);

    /** PyTorch's formula in double, one scalar parameter: returns the parameter after each step. */
    private static double[] byHand(double p, double[] grads) {
        double lr = 1e-3;
        double b1 = 0.9;
        double b2 = 0.999;
        double eps = 1e-8;
        double m = 0.0;
        double v = 0.0;
        double[] out = new double[grads.length];
        for (int t = 1; t <= grads.length; t++) {
            double g = grads[t - 1];
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            double bc1 = 1 - Math.pow(b1, t);
            double bc2 = 1 - Math.pow(b2, t);
            p -= (lr / bc1) * m / (Math.sqrt(v) / Math.sqrt(bc2) + eps);
            out[t - 1] = p;
        }
        return out;
    }

    /** Runs the float32 implementation on several independent scalars at once; returns param per step. */
    private static float[][] run(float[] params, float[][] gradsPerStep) {
        int n = params.length;
        float[] p = params.clone();
        float[] m = new float[n];
        float[] v = new float[n];
        float[][] out = new float[gradsPerStep.length][];
        for (int t = 1; t <= gradsPerStep.length; t++) {
            Adam.step(Adam.scalars(CFG, t), gradsPerStep[t - 1].clone(), m, v, p);
            out[t - 1] = p.clone();
        }
        return out;
    }

    @Test
    void firstThreeStepsMatchTheFormulaWrittenOut() {
        float[] params = {0.0f, 0.25f, -1.5f, 3e-3f};
        double[][] grads = {           // per parameter, t = 1, 2, 3
            {0.3, -0.2, 0.05},
            {-4.0, -3.0, 5.0},
            {1e-3, 2e-3, -1e-4},
            {7.0, 7.0, -7.0},
        };
        float[][] perStep = new float[3][params.length];
        for (int i = 0; i < params.length; i++) {
            for (int t = 0; t < 3; t++) {
                perStep[t][i] = (float) grads[i][t];
            }
        }
        float[][] got = run(params, perStep);
        for (int i = 0; i < params.length; i++) {
            double[] want = byHand(params[i], grads[i]);
            for (int t = 0; t < 3; t++) {
                // float32 rounding of the parameter plus ~1e-6 relative of the update (a few roundings)
                double tol = Math.ulp((float) want[t]) + 1e-6 * CFG.lr() * (t + 1);
                assertEquals(want[t], got[t][i], tol, "param " + i + " after step " + (t + 1));
            }
        }
    }

    @Test
    void firstStepIsLrTimesSignForTheHandValue() {
        // t = 1: m = 0.1 g, v = 0.001 g^2, bc1 = 0.1, bc2 = 0.001, so the update is lr * g / (|g| + eps)
        float[][] got = run(new float[] {0.0f}, new float[][] {{0.5f}});
        assertEquals(-1e-3 * 0.5 / (0.5 + 1e-8), got[0][0], Math.ulp(1e-3f), "within one float32 ulp");
    }

    @Test
    void biasCorrectionMakesAConstantGradientMoveLrPerStep() {
        // with a constant g, m / bc1 = g and v / bc2 = g^2 at every t: each step moves exactly lr g / (|g| + eps).
        // Without bias correction step 1 would move 0.1 / sqrt(0.001) = 3.16 lr.
        float g = 2.0f;
        float[][] got = run(new float[] {0.0f}, new float[][] {{g}, {g}, {g}});
        for (int t = 1; t <= 3; t++) {
            assertEquals(-t * 1e-3 * g / (g + 1e-8), got[t - 1][0], 1e-6 * 1e-3 * t, "after step " + t);
        }
    }

    @Test
    void epsIsAddedOutsideTheSqrtAfterTheBiasCorrection() {
        // g = 1e-8 = eps: sqrt(v) / sqrt(bc2) = |g| at t = 1 and 2, so denom = 2 eps and each step moves lr / 2.
        // eps inside the sqrt (sqrt(v + eps) ~ 1e-4) would move ~1e-4 lr; eps added before dividing by
        // sqrt(bc2) would move ~0.03 lr. Both fail this test.
        float[][] got = run(new float[] {0.0f}, new float[][] {{1e-8f}, {1e-8f}});
        assertEquals(-0.5e-3, got[0][0], 1e-6 * 0.5e-3, "after step 1");
        assertEquals(-1.0e-3, got[1][0], 1e-6 * 1e-3, "after step 2");
    }

    @Test
    void scalarsArePythonDoublesRoundedOnce() {
        AdamStepScalars s1 = Adam.scalars(AdamConfig.paper(), 1);
        assertEquals((float) (1 - 0.9), s1.lerpWeight());
        assertEquals((float) (1 - 0.999), s1.oneMinusBeta2());
        assertEquals((float) Math.sqrt(1 - 0.999), s1.bc2Sqrt());
        assertEquals((float) (-1e-5 / (1 - 0.9)), s1.negStepSize(), "lr is the double 1e-5, not (double) 1e-5f");
        AdamStepScalars s3 = Adam.scalars(AdamConfig.paper(), 3);
        assertEquals((float) (-1e-5 / (1 - 0.9 * 0.9 * 0.9)), s3.negStepSize());
        assertEquals((float) Math.sqrt(1 - 0.999 * 0.999 * 0.999), s3.bc2Sqrt());
        assertThrows(IllegalArgumentException.class, () -> Adam.scalars(AdamConfig.paper(), 0));
    }

    @Test
    void lerpBranchForLargeWeightAgreesWithTheFormula() {
        // beta1 = 0.2 gives lerp weight 0.8 >= 0.5: ATen takes the g - (1 - w)(g - m) branch
        AdamConfig c = new AdamConfig(1e-3f, 0.2f, 0.999f, 1e-8f, 2);
        float[] m = {0.0f};
        float[] v = {0.0f};
        float[] p = {0.0f};
        Adam.step(Adam.scalars(c, 1), new float[] {1.0f}, m, v, p);
        Adam.step(Adam.scalars(c, 2), new float[] {-3.0f}, m, v, p);
        double mWant = 0.2 * (0.8 * 1.0) + 0.8 * -3.0;
        assertEquals(mWant, m[0], 1e-6);
    }
}
