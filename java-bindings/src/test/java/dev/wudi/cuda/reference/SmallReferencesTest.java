package dev.wudi.cuda.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SmallReferencesTest {

    @Test
    void taskVectorsWidenThenSubtract() {
        assertArrayEquals(new float[] {0.5f, -2f}, TaskVectorReference.fromF32(new float[] {1.5f, 0f}, new float[] {1f, 2f}));
        short[] wi = {HalfPrecision.floatToBf16(1.5f), HalfPrecision.floatToBf16(-3f)};
        short[] w0 = {HalfPrecision.floatToBf16(1f), HalfPrecision.floatToBf16(1f)};
        assertArrayEquals(new float[] {0.5f, -4f}, TaskVectorReference.fromBf16(wi, w0));
        short[] hi = {HalfPrecision.floatToF16(0.25f)};
        short[] h0 = {HalfPrecision.floatToF16(1f)};
        assertArrayEquals(new float[] {-0.75f}, TaskVectorReference.fromF16(hi, h0));
        assertThrows(IllegalArgumentException.class, () -> TaskVectorReference.fromF32(new float[2], new float[3]));
    }

    @Test
    void reductions() {
        assertEquals(14.0, ReductionReference.squaredNorm(new float[] {1, 2, 3}));
        // (P - 2D) . tau = (5 - 2) * 2 + (1 - 4) * 1 = 3
        assertEquals(3.0, ReductionReference.interferenceLoss(new float[] {5, 1}, new float[] {1, 2}, new float[] {2, 1}));
    }

    @Test
    void symmetrizeCopiesTheColumnMajorUpperTriangle() {
        // column-major 3x3; upper (i <= j) holds 1..6, lower holds junk
        float[] g = {1, -1, -1, 2, 3, -1, 4, 5, 6};
        SymmetrizeReference.fromUpper(g, 3);
        assertArrayEquals(new float[] {1, 2, 4, 2, 3, 5, 4, 5, 6}, g);
    }
}
