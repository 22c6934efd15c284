package dev.wudi.cuda.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HalfPrecisionTest {

    private static int f16(float x) {
        return HalfPrecision.floatToF16(x) & 0xffff;
    }

    private static int bf16(float x) {
        return HalfPrecision.floatToBf16(x) & 0xffff;
    }

    @Test
    void f16KnownValues() {
        assertEquals(0x3c00, f16(1.0f));
        assertEquals(0xc000, f16(-2.0f));
        assertEquals(0x7bff, f16(65504f));
        assertEquals(0x7bff, f16(65519.99f));
        assertEquals(0x7c00, f16(65520f));            // the tie above the max rounds to infinity
        assertEquals(0x7c00, f16(Float.POSITIVE_INFINITY));
        assertEquals(0xfc00, f16(Float.NEGATIVE_INFINITY));
        assertEquals(0x0400, f16(0x1p-14f));          // smallest normal
        assertEquals(0x0001, f16(0x1p-24f));          // smallest subnormal
        assertEquals(0x0000, f16(0x1p-25f));          // tie between 0 and 2^-24 goes to even 0
        assertEquals(0x0001, f16(0x1.8p-25f));
        assertEquals(0x8000, f16(-0.0f));
        assertEquals(0x3c00, f16(1.0f + 0x1p-11f));   // tie, to even
        assertEquals(0x3c02, f16(1.0f + 3 * 0x1p-11f)); // tie, to even (up)
    }

    @Test
    void f16NanStaysNan() {
        int h = f16(Float.NaN);
        assertEquals(0x7c00, h & 0x7c00);
        assertTrue((h & 0x3ff) != 0);
        assertTrue(Float.isNaN(HalfPrecision.f16ToFloat((short) 0x7c01)));
        assertTrue(Float.isNaN(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(Float.intBitsToFloat(0xff800001)))));
        assertEquals(0x8000, f16(Float.intBitsToFloat(0xffc00000)) & 0x8000, "sign kept");
    }

    @Test
    void everyF16RoundTripsThroughFloat() {
        for (int h = 0; h < 0x10000; h++) {
            float x = HalfPrecision.f16ToFloat((short) h);
            int back = f16(x);
            if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) {
                assertEquals(h | 0x0200, back, "NaN " + Integer.toHexString(h) + " comes back quiet");
            } else {
                assertEquals(h, back, "half " + Integer.toHexString(h));
            }
        }
    }

    @Test
    void f16RoundsToNearestEven() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            float x = Float.intBitsToFloat(0x30000000 + rnd.nextInt(0x17800000)); // ~2^-31 .. ~2^16
            int h = f16(x);
            if (h == 0x7c00) {
                assertTrue(x >= 65520f);
                continue;
            }
            double here = Math.abs((double) x - HalfPrecision.f16ToFloat((short) h));
            double below = h > 0 ? Math.abs((double) x - HalfPrecision.f16ToFloat((short) (h - 1))) : Double.MAX_VALUE;
            double above = h < 0x7bff ? Math.abs((double) x - HalfPrecision.f16ToFloat((short) (h + 1))) : Double.MAX_VALUE;
            assertTrue(here <= below && here <= above, "x=" + x + " -> " + Integer.toHexString(h));
            if (here == below || here == above) {
                assertEquals(0, h & 1, "tie at " + x + " must go to even");
            }
        }
    }

    @Test
    void bf16KnownValuesAndTies() {
        assertEquals(0x3f80, bf16(1.0f));
        assertEquals(0x3f80, bf16(1.0f + 0x1p-8f));        // tie, to even
        assertEquals(0x3f82, bf16(1.0f + 3 * 0x1p-8f));    // tie, to even (up)
        assertEquals(0x3f81, bf16(1.0f + 0x1.8p-8f));
        assertEquals(0x7f80, bf16(Float.POSITIVE_INFINITY));
        assertEquals(0x7f80, bf16(Float.MAX_VALUE));       // rounds up to infinity
        int nan = bf16(Float.intBitsToFloat(0x7f800001)); // signalling NaN with payload only in low bits
        assertTrue((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0, Integer.toHexString(nan));
        assertEquals(1.0f, HalfPrecision.bf16ToFloat((short) 0x3f80));
    }

    @Test
    void everyBf16RoundTripsThroughFloat() {
        for (int h = 0; h < 0x10000; h++) {
            int back = bf16(HalfPrecision.bf16ToFloat((short) h));
            if ((h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0) {
                assertEquals(h | 0x40, back);
            } else {
                assertEquals(h, back, Integer.toHexString(h));
            }
        }
    }
}
