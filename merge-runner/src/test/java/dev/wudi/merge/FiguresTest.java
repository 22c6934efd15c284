package dev.wudi.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Losses in one format in every report: small values visible, zero as 0, never "0.00000" beside "1.6e-09". */
class FiguresTest {

    @Test
    void sixSignificantDigitsWithoutTrailingZeros() {
        assertEquals("0", Figures.of(0.0));
        assertEquals("0", Figures.of(-0.0));
        assertEquals("1.64844e-09", Figures.of(1.648441e-9));
        assertEquals("0.0062488", Figures.of(0.00624880));
        assertEquals("0.0001", Figures.of(1e-4));
        assertEquals("9.99e-05", Figures.of(9.99e-5));
        assertEquals("12.5", Figures.of(12.5));
        assertEquals("123457", Figures.of(123456.7));
        assertEquals("1.23457e+06", Figures.of(1234567.0));
        assertEquals("-3", Figures.of(-3.0));
        assertEquals("NaN", Figures.of(Double.NaN));
    }
}
