package dev.wudi.cuda.reference;

/**
 * Host reference of cuda-kernels/convert.cu and of the widening in task_vector.cu: bfloat16 and IEEE
 * binary16 to float32 (exact) and back with round-to-nearest-even; NaN stays NaN (quiet bit set, sign and
 * the top payload bits kept), overflow goes to infinity, float16 subnormals are produced. The kernels
 * agree bit for bit, NaNs included. Values are raw 16-bit patterns in shorts.
 */
public final class HalfPrecision {

    private HalfPrecision() {
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    public static short floatToBf16(float x) {
        int u = Float.floatToRawIntBits(x);
        if ((u & 0x7fffffff) > 0x7f800000) {                 // NaN: truncate, set the quiet bit
            return (short) ((u >>> 16) | 0x0040);
        }
        u += 0x7fff + ((u >>> 16) & 1);                       // round half to even on bit 16
        return (short) (u >>> 16);
    }

    public static float f16ToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {                                    // inf or NaN: keep the payload
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            float v = mant * 0x1p-24f;                        // subnormal: mant * 2^-24, exact in float
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public static short floatToF16(float x) {
        int f = Float.floatToRawIntBits(x);
        int sign = (f >>> 16) & 0x8000;
        int a = f & 0x7fffffff;
        if (a > 0x7f800000) {                                 // NaN: sign, quiet bit, top 10 payload bits
            return (short) (sign | 0x7e00 | ((a >>> 13) & 0x3ff));
        }
        if (a >= 0x477ff000) {                                // >= 65520 rounds to infinity (65504 is the max)
            return (short) (sign | 0x7c00);
        }
        if (a >= 0x38800000) {                                // normal half: rebias and round on bit 13
            int r = a - 0x38000000;
            r += 0x0fff + ((r >>> 13) & 1);
            return (short) (sign | (r >>> 13));
        }
        if (a <= 0x33000000) {                                // <= 2^-25: rounds to zero (the tie goes to even 0)
            return (short) sign;
        }
        int e = a >>> 23;                                     // subnormal half: value / 2^-24, rounded to even
        int mant = (a & 0x7fffff) | 0x800000;
        int shift = 126 - e;                                  // 14..24
        int h = mant >>> shift;
        int rem = mant & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rem > half || (rem == half && (h & 1) == 1)) {
            h++;
        }
        return (short) (sign | h);
    }
}
