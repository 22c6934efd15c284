package dev.wudi.format;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FloatsTest {

    // ---------------------------------------------------------------- helpers

    private static float f(int bits) {
        return Float.intBitsToFloat(bits);
    }

    private static void half(int expectedBits, float value) {
        short h = Floats.floatToHalf(value);
        assertEquals(expectedBits, h & 0xFFFF, () -> "floatToHalf(" + value + " = 0x"
                + Integer.toHexString(Float.floatToRawIntBits(value)) + ") = 0x" + Integer.toHexString(h & 0xFFFF));
    }

    private static void bf16(int expectedBits, float value) {
        short h = Floats.floatToBf16(value);
        assertEquals(expectedBits, h & 0xFFFF, () -> "floatToBf16(" + value + " = 0x"
                + Integer.toHexString(Float.floatToRawIntBits(value)) + ") = 0x" + Integer.toHexString(h & 0xFFFF));
    }

    private static boolean halfIsNaN(short h) {
        return (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    }

    private static boolean bf16IsNaN(short h) {
        return (h & 0x7F80) == 0x7F80 && (h & 0x7F) != 0;
    }

    // ---------------------------------------------------------------- binary16 edge values

    @Test
    void halfZerosAndSubnormals() {
        half(0x0000, 0.0f);
        half(0x8000, -0.0f);
        half(0x0001, 0x1p-24f);            // smallest subnormal
        half(0x8001, -0x1p-24f);
        half(0x03FF, 1023 * 0x1p-24f);     // largest subnormal
        half(0x0400, 0x1p-14f);            // smallest normal
        half(0x0000, 0x1p-25f);            // halfway 0 | 1 ulp: ties to even (0)
        half(0x8000, -0x1p-25f);
        half(0x0001, Math.nextUp(0x1p-25f));
        half(0x0000, Math.nextDown(0x1p-25f));
        half(0x0002, 3 * 0x1p-25f);        // halfway 1 | 2: even is 2 (rounds up)
        half(0x0002, 5 * 0x1p-25f);        // halfway 2 | 3: even is 2 (rounds down)
        half(0x0003, Math.nextUp(5 * 0x1p-25f));
        half(0x0400, 2047 * 0x1p-25f);     // halfway largest subnormal | smallest normal: even is 0x400
        half(0x03FF, Math.nextDown(2047 * 0x1p-25f));
        half(0x0000, Float.MIN_VALUE);
        half(0x0000, 0x1p-126f);
    }

    @Test
    void halfNormalsTiesAndOverflow() {
        half(0x3C00, 1.0f);
        half(0x3C00, 1 + 0x1p-11f);                    // halfway 0x3C00 | 0x3C01: down to even
        half(0x3C02, 1 + 3 * 0x1p-11f);                // halfway 0x3C01 | 0x3C02: up to even
        half(0x3C01, Math.nextUp(1 + 0x1p-11f));       // just above halfway
        half(0x3C00, Math.nextDown(1 + 0x1p-11f));     // just below halfway
        half(0x3C01, Math.nextDown(1 + 3 * 0x1p-11f));
        half(0xBC02, -(1 + 3 * 0x1p-11f));
        half(0x7BFF, 65504f);                          // max finite
        half(0x7BFF, 65519.99f);
        half(0x7BFF, Math.nextDown(65520f));
        half(0x7C00, 65520f);                          // halfway 65504 | 2^16: rounds to inf
        half(0xFC00, -65520f);
        half(0x7C00, 1e6f);
        half(0x7C00, Float.MAX_VALUE);
        half(0x7C00, Float.POSITIVE_INFINITY);
        half(0xFC00, Float.NEGATIVE_INFINITY);
        half(0x7800, 32768f);
    }

    @Test
    void halfNaNStaysNaN() {
        for (int bits : new int[]{0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0xFF800001, 0xFFC00000, 0x7F802000}) {
            short h = Floats.floatToHalf(f(bits));
            assertTrue(halfIsNaN(h), () -> "0x" + Integer.toHexString(bits) + " -> 0x" + Integer.toHexString(h & 0xFFFF));
            assertTrue(Float.isNaN(Floats.halfToFloat(h)));
        }
        assertEquals(0x8000, Floats.floatToHalf(f(0xFF800001)) & 0x8000, "sign kept");
    }

    @Test
    void halfToFloatEdgeValues() {
        assertEquals(0.0f, Floats.halfToFloat((short) 0x0000));
        assertEquals(0x80000000, Float.floatToRawIntBits(Floats.halfToFloat((short) 0x8000)));
        assertEquals(0x1p-24f, Floats.halfToFloat((short) 0x0001));
        assertEquals(1023 * 0x1p-24f, Floats.halfToFloat((short) 0x03FF));
        assertEquals(0x1p-14f, Floats.halfToFloat((short) 0x0400));
        assertEquals(65504f, Floats.halfToFloat((short) 0x7BFF));
        assertEquals(-2f, Floats.halfToFloat((short) 0xC000));
        assertEquals(Float.POSITIVE_INFINITY, Floats.halfToFloat((short) 0x7C00));
        assertEquals(Float.NEGATIVE_INFINITY, Floats.halfToFloat((short) 0xFC00));
        assertTrue(Float.isNaN(Floats.halfToFloat((short) 0x7C01)));
        assertTrue(Float.isNaN(Floats.halfToFloat((short) 0xFE00)));
    }

    // ---------------------------------------------------------------- bfloat16 edge values

    @Test
    void bf16EdgeValues() {
        bf16(0x0000, 0.0f);
        bf16(0x8000, -0.0f);
        bf16(0x0001, f(0x00010000));        // smallest subnormal, 2^-133
        bf16(0x007F, f(0x007F0000));        // largest subnormal
        bf16(0x0080, 0x1p-126f);            // smallest normal
        bf16(0x7F7F, f(0x7F7F0000));        // max finite
        bf16(0x0000, Float.MIN_VALUE);      // far below half the smallest subnormal
        bf16(0x0000, f(0x00008000));        // halfway 0 | 0x0001: even (0)
        bf16(0x0001, f(0x00008001));
        bf16(0x3F80, 1.0f);
        bf16(0x3F80, f(0x3F808000));        // halfway 0x3F80 | 0x3F81: down to even
        bf16(0x3F82, f(0x3F818000));        // halfway 0x3F81 | 0x3F82: up to even
        bf16(0x3F81, f(0x3F808001));        // just above halfway
        bf16(0x3F80, f(0x3F807FFF));        // just below halfway
        bf16(0xBF82, f(0xBF818000));
        bf16(0x7F7F, f(0x7F7F7FFF));
        bf16(0x7F80, f(0x7F7F8000));        // halfway max | 2^128: rounds to inf
        bf16(0x7F80, Float.MAX_VALUE);
        bf16(0xFF80, -Float.MAX_VALUE);
        bf16(0x7F80, Float.POSITIVE_INFINITY);
        bf16(0xFF80, Float.NEGATIVE_INFINITY);
    }

    @Test
    void bf16NaNNeverBecomesInf() {
        // plain rounding would carry 0x7FFFFFFF into 0x8000 (a wrap) and truncate 0x7F800001 to inf
        for (int bits : new int[]{0x7FC00000, 0x7FFFFFFF, 0x7F800001, 0xFFFFFFFF, 0xFF800001, 0x7FBFFFFF}) {
            short h = Floats.floatToBf16(f(bits));
            assertTrue(bf16IsNaN(h), () -> "0x" + Integer.toHexString(bits) + " -> 0x" + Integer.toHexString(h & 0xFFFF));
            assertEquals(bits >>> 31, (h & 0xFFFF) >>> 15, "sign kept");
            assertTrue(Float.isNaN(Floats.bf16ToFloat(h)));
        }
    }

    // ---------------------------------------------------------------- exhaustive identities

    @Test
    void everyHalfSurvivesWidenAndNarrow() {
        for (int h = 0; h < 0x10000; h++) {
            short s = (short) h;
            float v = Floats.halfToFloat(s);
            short back = Floats.floatToHalf(v);
            if (halfIsNaN(s)) {
                assertTrue(halfIsNaN(back), "NaN 0x" + Integer.toHexString(h));
            } else {
                assertEquals(h, back & 0xFFFF, "0x" + Integer.toHexString(h));
                // widening checked independently of the code under test (finite values)
                if ((h & 0x7C00) != 0x7C00) assertEquals(referenceHalfValue(h & 0x7FFF), Math.abs((double) v), "0x" + Integer.toHexString(h));
            }
        }
    }

    @Test
    void everyBf16SurvivesWidenAndNarrow() {
        for (int h = 0; h < 0x10000; h++) {
            short s = (short) h;
            short back = Floats.floatToBf16(Floats.bf16ToFloat(s));
            if (bf16IsNaN(s)) {
                assertTrue(bf16IsNaN(back), "NaN 0x" + Integer.toHexString(h));
            } else {
                assertEquals(h, back & 0xFFFF, "0x" + Integer.toHexString(h));
            }
        }
    }

    // ---------------------------------------------------------------- randomized against a reference

    /**
     * Value of a non-negative binary16 pattern computed in double from the IEEE definition; 0x7C00 stands
     * for 2^16, the next value past the max with an unbounded exponent, which decides overflow rounding.
     */
    private static double referenceHalfValue(int bits) {
        int exp = bits >>> 10;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return mant == 0 ? 65536.0 : Double.NaN;
        }
        return exp == 0 ? Math.scalb((double) mant, -24) : Math.scalb((double) (1024 + mant), exp - 25);
    }

    private static final BigDecimal[] HALF_VALUES = new BigDecimal[0x7C01];

    static {
        for (int i = 0; i <= 0x7C00; i++) {
            HALF_VALUES[i] = new BigDecimal(referenceHalfValue(i));
        }
    }

    /** Nearest binary16 by exact decimal arithmetic: binary search, then ties to the even pattern. */
    private static int referenceFloatToHalf(float v) {
        int sign = Float.floatToRawIntBits(v) < 0 ? 0x8000 : 0;
        if (Float.isInfinite(v)) {
            return sign | 0x7C00;
        }
        BigDecimal x = new BigDecimal(Math.abs((double) v));
        if (x.compareTo(HALF_VALUES[0x7C00]) >= 0) {
            return sign | 0x7C00;
        }
        int lo = 0;
        int hi = 0x7C00; // invariant: value(lo) <= x < value(hi)
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (HALF_VALUES[mid].compareTo(x) <= 0) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        int c = x.subtract(HALF_VALUES[lo]).compareTo(HALF_VALUES[hi].subtract(x));
        int pick = c < 0 ? lo : c > 0 ? hi : (lo % 2 == 0 ? lo : hi);
        return sign | pick;
    }

    @Test
    void floatToHalfMatchesExactReferenceOnRandomFloats() {
        SplittableRandom rnd = new SplittableRandom(20250311);
        for (int i = 0; i < 1_000_000; i++) {
            int bits;
            if (i % 2 == 0) {
                bits = rnd.nextInt(); // every exponent
            } else {
                // concentrate on binary16's range, subnormals included: float exponents 2^-26 .. 2^16
                int exp = 127 - 26 + rnd.nextInt(43);
                bits = (rnd.nextInt(2) << 31) | (exp << 23) | rnd.nextInt(1 << 23);
            }
            float v = f(bits);
            if (Float.isNaN(v)) {
                continue;
            }
            int expected = referenceFloatToHalf(v);
            int actual = Floats.floatToHalf(v) & 0xFFFF;
            if (expected != actual) {
                throw new AssertionError("floatToHalf(0x" + Integer.toHexString(bits) + " = " + v + "): expected 0x"
                        + Integer.toHexString(expected) + ", got 0x" + Integer.toHexString(actual));
            }
        }
    }

    /** Nearest bfloat16 by exact decimal arithmetic between the two candidates around v. */
    private static int referenceFloatToBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        int sign = bits & 0x80000000;
        int lo = (bits & 0x7FFFFFFF) >>> 16; // truncation toward zero
        BigDecimal x = new BigDecimal(Math.abs((double) v));
        BigDecimal vlo = new BigDecimal((double) f(lo << 16));
        // past the max finite the next candidate is 2^128 (Inf), as if the exponent were unbounded
        BigDecimal vhi = lo == 0x7F7F ? new BigDecimal(Math.scalb(1.0, 128))
                : new BigDecimal((double) f((lo + 1) << 16));
        int c = x.subtract(vlo).compareTo(vhi.subtract(x));
        int pick = c < 0 ? lo : c > 0 ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1);
        return (sign >>> 16) | pick;
    }

    @Test
    void floatToBf16MatchesExactReferenceOnRandomFloats() {
        SplittableRandom rnd = new SplittableRandom(16);
        for (int i = 0; i < 300_000; i++) {
            int bits = rnd.nextInt();
            if (i % 3 == 0) {
                bits = (bits & 0xFFFF0000) | 0x8000; // exact ties
            }
            float v = f(bits);
            if (Float.isNaN(v) || Float.isInfinite(v)) {
                continue;
            }
            int expected = referenceFloatToBf16(v);
            int actual = Floats.floatToBf16(v) & 0xFFFF;
            if (expected != actual) {
                throw new AssertionError("floatToBf16(0x" + Integer.toHexString(bits) + "): expected 0x"
                        + Integer.toHexString(expected) + ", got 0x" + Integer.toHexString(actual));
            }
        }
    }

    // ---------------------------------------------------------------- bulk

    @Test
    void bulkWritesLittleEndianBytes() {
        ByteBuffer b = ByteBuffer.allocate(4); // big-endian on purpose: bulk must not depend on it
        Floats.encode(DType.F32, new float[]{1.0f}, 0, 1, b);
        assertArrayEquals(new byte[]{0, 0, (byte) 0x80, 0x3F}, b.array());
        assertEquals(4, b.position());
        assertEquals(ByteOrder.BIG_ENDIAN, b.order());

        b = ByteBuffer.allocate(4);
        Floats.encode(DType.F16, new float[]{1.0f, -2.0f}, 0, 2, b);
        assertArrayEquals(new byte[]{0, 0x3C, 0, (byte) 0xC0}, b.array());

        b = ByteBuffer.allocate(4);
        Floats.encode(DType.BF16, new float[]{1.0f, -2.0f}, 0, 2, b);
        assertArrayEquals(new byte[]{(byte) 0x80, 0x3F, 0, (byte) 0xC0}, b.array());
    }

    @Test
    void bulkRoundTripsAcrossChunks() {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] values = new float[10_001]; // more than one internal chunk
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (rnd.nextGaussian() * 100);
        }
        for (DType dt : new DType[]{DType.F32, DType.F16, DType.BF16}) {
            ByteBuffer buf = ByteBuffer.allocateDirect(3 + (values.length - 1) * dt.bytes());
            buf.position(3); // an unaligned start must work too
            Floats.encode(dt, values, 1, values.length - 1, buf);
            assertEquals(buf.capacity(), buf.position());
            buf.position(3);
            float[] back = new float[values.length + 2];
            Floats.decode(dt, buf, back, 2, values.length - 1);
            assertEquals(buf.capacity(), buf.position());
            for (int i = 1; i < values.length; i++) {
                float expected = switch (dt) {
                    case F32 -> values[i];
                    case F16 -> Floats.halfToFloat(Floats.floatToHalf(values[i]));
                    default -> Floats.bf16ToFloat(Floats.floatToBf16(values[i]));
                };
                assertEquals(expected, back[i + 1], dt + " element " + i);
            }
        }
    }

    @Test
    void bulkRejectsOtherDtypesAndShortBuffers() {
        float[] dst = new float[4];
        assertThrows(IllegalArgumentException.class, () -> Floats.decode(DType.I32, ByteBuffer.allocate(16), dst, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> Floats.decode(DType.F32, ByteBuffer.allocate(15), dst, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> Floats.encode(DType.F16, dst, 0, 4, ByteBuffer.allocate(7)));
        assertThrows(IndexOutOfBoundsException.class, () -> Floats.decode(DType.F32, ByteBuffer.allocate(16), dst, 1, 4));
    }

    // ---------------------------------------------------------------- finiteness as written

    /**
     * firstNonFinite(dt, floats) says a value is not finite exactly where encoding it as dt gives an infinity or a NaN
     * (checked on the encoded bits by the byte-level scan): every float32 within 2^16 ulps of each dtype's overflow
     * threshold, both signs, plus random values.
     */
    @Test
    void nonFiniteAsWrittenAgreesWithTheEncoding() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            int[] centres = {0x477FF000, 0x7F7F8000, 0x7F800000};
            for (int c : centres) {
                for (int d = -(1 << 16); d <= (1 << 16); d++) {
                    int bits = c + d;
                    if (bits < 0 || bits > 0x7FFFFFFF) {
                        continue;
                    }
                    agree(dt, f(bits));
                    agree(dt, -f(bits));
                }
            }
            for (int k = 0; k < 200_000; k++) {
                agree(dt, f(rnd.nextInt()));
            }
        }
    }

    private static void agree(DType dt, float v) {
        float[] one = {0f, v};
        ByteBuffer b = ByteBuffer.allocate(2 * dt.bytes());
        Floats.encode(dt, one, 0, 2, b);
        b.flip();
        long encoded = Floats.firstNonFinite(dt, b);
        int asFloat = Floats.firstNonFinite(dt, one, 0, 2);
        assertEquals(encoded, (long) asFloat, () -> dt + " " + v + " (0x" + Integer.toHexString(Float.floatToRawIntBits(v))
                + "): scan of floats says " + asFloat + ", scan of the encoded bytes " + encoded);
        assertEquals(0, b.position(), "the byte scan does not move the buffer");
        if (encoded == 1) {
            float back = Floats.valueAt(dt, b, 1);
            assertTrue(!Float.isFinite(back), () -> dt + " " + v + " reads back as " + back);
        }
    }

    private static ByteBuffer floats32(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        b.flip();
        return b;
    }

    @Test
    void nonFiniteScansGiveTheFirstIndexAndIgnoreOtherDtypes() {
        float[] v = {1f, 2f, Float.NaN, Float.POSITIVE_INFINITY};
        assertEquals(2, Floats.firstNonFinite(DType.F32, v, 0, 4));
        assertEquals(0, Floats.firstNonFinite(DType.F32, v, 2, 2));
        assertEquals(-1, Floats.firstNonFinite(DType.F32, v, 0, 2));
        assertEquals(1, Floats.firstNonFinite(DType.F16, new float[] {65504f, 65520f}, 0, 2));
        assertEquals(-1, Floats.firstNonFinite(DType.I64, ByteBuffer.allocate(16)));
        assertEquals(3L, Floats.firstNonFinite(DType.F32, floats32(v).position(4)) + 2);
    }
}
