package dev.wudi.cuda.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wudi.adam.AdamStepScalars;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FusedAdamReferenceTest {

    @Test
    void scalarsAreRoundedAsPyTorchRoundsThem() {
        AdamStepScalars s = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 1);
        assertEquals((float) (1 - 0.9), s.lerpWeight());          // Python: 1 - beta1 with beta1 = 0.9
        assertEquals((float) (1 - 0.999), s.oneMinusBeta2());
        assertEquals((float) (1e-5 / (1 - 0.9)), s.stepSize());
        assertEquals((float) Math.sqrt(1 - 0.999), s.bc2Sqrt());
        AdamStepScalars s300 = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 300);
        assertEquals((float) (1e-5 / (1 - Math.pow(0.9, 300))), s300.stepSize());
        assertEquals((float) Math.sqrt(1 - Math.pow(0.999, 300)), s300.bc2Sqrt());
    }

    /** The float32 step against the same update written plainly in double: they agree to float rounding. */
    @Test
    void stepMatchesTheAdamFormulasInDouble() {
        SplittableRandom rnd = new SplittableRandom(11);
        int n = 1000;
        float[] p = new float[n], d = new float[n], m = new float[n], v = new float[n], tau = new float[n];
        double[] md = new double[n], vd = new double[n], td = new double[n];
        for (int k = 0; k < n; k++) {
            p[k] = (float) rnd.nextGaussian();
            d[k] = (float) rnd.nextGaussian();
            tau[k] = (float) rnd.nextGaussian();
            td[k] = tau[k];
        }
        double lossExpected = 0;
        for (int k = 0; k < n; k++) {
            lossExpected += ((double) p[k] - 2.0 * d[k]) * tau[k];
        }
        for (int t = 1; t <= 3; t++) {
            AdamStepScalars s = AdamStepScalars.forStep(1e-3f, 0.9f, 0.999f, 1e-8f, t);
            double loss = FusedAdamReference.step(p, d, m, v, tau, s);
            if (t == 1) {
                assertEquals(lossExpected, loss, 1e-9 * Math.abs(lossExpected));
            }
            for (int k = 0; k < n; k++) {
                double g = 2.0 * ((double) p[k] - d[k]);
                md[k] = 0.9 * md[k] + 0.1 * g;
                vd[k] = 0.999 * vd[k] + 0.001 * g * g;
                double denom = Math.sqrt(vd[k]) / Math.sqrt(1 - Math.pow(0.999, t)) + 1e-8;
                td[k] -= 1e-3 / (1 - Math.pow(0.9, t)) * md[k] / denom;
                assertEquals(md[k], m[k], 1e-5 * Math.abs(md[k]) + 1e-12);
                assertEquals(vd[k], v[k], 1e-5 * Math.abs(vd[k]) + 1e-12);
                assertEquals(td[k], tau[k], 1e-6 * Math.abs(td[k]) + 1e-9);
            }
        }
    }

    /** Step 1 from m = v = 0 moves every element by lr * sign(g) (up to eps): Adam's known first step. */
    @Test
    void firstStepMovesByLearningRate() {
        float[] p = {3f, -1f}, d = {1f, 1f}, m = new float[2], v = new float[2], tau = {0f, 0f};
        FusedAdamReference.step(p, d, m, v, tau, AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 1));
        assertEquals(-1e-5f, tau[0], 1e-11f);
        assertEquals(1e-5f, tau[1], 1e-11f);
    }
}
