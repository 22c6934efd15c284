package dev.wudi.adam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigDecimal;
import java.math.MathContext;
import org.junit.jupiter.api.Test;

/**
 * The scalars every Adam of the engine uses (CPU passes, GPU kernel, references): pinned to their bits at the paper's
 * settings, and checked at every step against exact arithmetic, so that a change of formula, of pow or of rounding
 * shows here before it shows as a CPU/GPU disagreement.
 */
class AdamStepScalarsTest {

    private static int bits(float x) {
        return Float.floatToRawIntBits(x);
    }

    @Test
    void paperSettingsArePinnedToTheirBits() {
        AdamStepScalars s1 = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 1);
        assertEquals(1, s1.t());
        assertEquals(0x3dcccccd, bits(s1.lerpWeight()), "float(1 - 0.9)");
        assertEquals(0x3f7fbe77, bits(s1.beta2()), "float(0.999)");
        assertEquals(0x3a83126f, bits(s1.oneMinusBeta2()), "float(1 - 0.999)");
        assertEquals(0x38d1b717, bits(s1.stepSize()), "float(1e-5 / 0.1) = 1e-4f");
        assertEquals(0x3d0186e2, bits(s1.bc2Sqrt()), "float(sqrt(0.001))");
        assertEquals(0x322bcc77, bits(s1.eps()), "1e-8f");
        AdamStepScalars s2 = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 2);
        assertEquals(0x385cc0ba, bits(s2.stepSize()));
        assertEquals(0x3d372205, bits(s2.bc2Sqrt()));
        AdamStepScalars s300 = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 300);
        assertEquals(0x3727c5ac, bits(s300.stepSize()));
        assertEquals(0x3f025b78, bits(s300.bc2Sqrt()));
        assertEquals(-s300.stepSize(), s300.negStepSize());
    }

    /** lr / (1 - b1^t) and sqrt(1 - b2^t) with b^t exact (BigDecimal), rounded to double and then to float. */
    @Test
    void everyStepEqualsExactArithmeticRoundedToFloat() {
        float[][] settings = {{1e-5f, 0.9f, 0.999f}, {1e-3f, 0.9f, 0.999f}, {3e-4f, 0.95f, 0.99f}, {1e-2f, 0.5f, 0.9f}};
        MathContext mc = new MathContext(80);
        for (float[] c : settings) {
            BigDecimal b1 = new BigDecimal(Float.toString(c[1]));
            BigDecimal b2 = new BigDecimal(Float.toString(c[2]));
            double lr = Double.parseDouble(Float.toString(c[0]));
            for (int t = 1; t <= 1000; t++) {
                AdamStepScalars s = AdamStepScalars.forStep(c[0], c[1], c[2], 1e-8f, t);
                double bc1 = 1.0 - b1.pow(t, mc).doubleValue();
                double bc2 = 1.0 - b2.pow(t, mc).doubleValue();
                String at = "lr " + c[0] + ", betas " + c[1] + "/" + c[2] + ", step " + t;
                assertEquals(bits((float) (lr / bc1)), bits(s.stepSize()), at);
                assertEquals(bits((float) Math.sqrt(bc2)), bits(s.bc2Sqrt()), at);
            }
        }
    }

    @Test
    void kernelArgumentFollowsTheStructOfFusedAdam() {
        AdamStepScalars s = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 7);
        float[] a = s.toKernelArgument();
        assertEquals(AdamStepScalars.KERNEL_FLOATS, a.length);
        assertArrayEquals(new float[] {1.0f - s.lerpWeight(), s.lerpWeight(), s.beta2(), s.oneMinusBeta2(), s.stepSize(),
            s.bc2Sqrt(), s.eps()}, a);
    }

    @Test
    void stepsCountFromOne() {
        assertThrows(IllegalArgumentException.class, () -> AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 0));
    }
}
