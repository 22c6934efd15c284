package dev.wudi.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ErfTest {

    @Test
    void matchesCommonsMathOnAFineGrid() {
        double worst = 0;
        for (double x = -7; x <= 7; x += 0.00137) {
            double want = org.apache.commons.math3.special.Erf.erf(x);
            double got = Erf.erf(x);
            worst = Math.max(worst, Math.abs(got - want));
        }
        assertEquals(0, worst, 1e-14, "max |erf - commons-math erf|");
        // the switch between series and continued fraction, and exact values
        assertEquals(org.apache.commons.math3.special.Erf.erf(2.5), Erf.erf(2.5), 1e-14);
        assertEquals(org.apache.commons.math3.special.Erf.erf(2.5000001), Erf.erf(2.5000001), 1e-14);
        assertEquals(0.0, Erf.erf(0.0));
        assertEquals(-Erf.erf(1.3), Erf.erf(-1.3));
        assertEquals(1.0, Erf.erf(30));
        assertEquals(0.8413447460685429 * 1.0, Erf.gelu(1.0), 1e-15); // Phi(1)
    }
}
