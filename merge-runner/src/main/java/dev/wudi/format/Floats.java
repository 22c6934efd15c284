package dev.wudi.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * Conversions between float32 and the 16-bit float formats of checkpoints (IEEE binary16 "F16" and
 * bfloat16 "BF16"), one value at a time and in bulk over little-endian byte buffers.
 *
 * <p>Narrowing rounds to nearest, ties to even, as PyTorch's {@code tensor.to(dtype)} does; NaN stays a
 * (quiet) NaN and infinities stay infinite. Widening is exact.
 */
public final class Floats {

    /** Values converted per bulk step: bounds the scratch array while keeping the bulk gets long. */
    private static final int CHUNK = 4096;

    /**
     * Every binary16 pattern widened once (256 KiB): bulk decoding becomes a table lookup instead of
     * a branchy bit manipulation per element.
     */
    private static final float[] HALF_TO_FLOAT = new float[1 << 16];

    static {
        for (int h = 0; h < HALF_TO_FLOAT.length; h++) {
            HALF_TO_FLOAT[h] = halfToFloat((short) h);
        }
    }

    private Floats() {
    }

    // ---------------------------------------------------------------- bfloat16

    /** bfloat16 is the top half of a float32, so widening is a shift. */
    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xFFFF) << 16);
    }

    /** Rounds to the nearest bfloat16, ties to even; NaN stays a quiet NaN of the same sign. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            // Rounding a NaN's payload could carry into the exponent and give Inf (e.g. 0x7FFFFFFF),
            // and truncating could drop every payload bit (0x7F800001): keep the top bits and set
            // the quiet bit, so the result is always a NaN.
            return (short) ((bits >>> 16) | 0x0040);
        }
        // Add just under half an ulp, plus one more when the kept part is odd: ties go to even.
        // A carry into the exponent is the correct result, up to Inf for values past the max.
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    // ---------------------------------------------------------------- binary16

    /** Exact widening of an IEEE binary16 value. */
    public static float halfToFloat(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24, exact in float32
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        if (exp == 0x1F) {
            // Inf (mant 0) or NaN, payload kept in the top mantissa bits
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** Smallest float32 bit pattern (magnitude) that rounds to binary16 infinity: 65520. */
    private static final int HALF_OVERFLOW_BITS = 0x477FF000;
    /** Smallest normal binary16, 2^-14, as float32 bits. */
    private static final int HALF_MIN_NORMAL_BITS = 0x38800000;

    /** Rounds to the nearest IEEE binary16, ties to even (also for subnormal results); NaN stays NaN. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000) {
            // quiet NaN; keep what fits of the payload
            return (short) (sign | 0x7E00 | ((abs >>> 13) & 0x3FF));
        }
        if (abs >= HALF_OVERFLOW_BITS) {
            // 65520 is halfway between 65504 (odd mantissa) and 2^16, so it and everything above
            // round to infinity; Inf itself lands here too
            return (short) (sign | 0x7C00);
        }
        if (abs >= HALF_MIN_NORMAL_BITS) {
            // re-bias the exponent (127 -> 15) in place, then drop 13 mantissa bits with
            // ties-to-even; a carry out of the mantissa correctly bumps the exponent
            int h = abs - ((127 - 15) << 23);
            h += 0xFFF + ((h >>> 13) & 1);
            return (short) (sign | (h >>> 13));
        }
        // Subnormal (or zero) result: the value in units of 2^-24 is m * 2^(e - 126).
        int e = abs >>> 23;
        int shift = 126 - e;
        if (shift > 24) {
            // below 2^-25, i.e. under half the smallest subnormal (m < 2^24): rounds to zero
            return (short) sign;
        }
        int m = (abs & 0x7FFFFF) | 0x800000;
        int q = m >>> shift;
        int rem = m & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rem > half || (rem == half && (q & 1) != 0)) {
            q++; // may become 0x400, which is exactly the smallest normal's encoding
        }
        return (short) (sign | q);
    }

    // ---------------------------------------------------------------- bulk

    /**
     * Reads count little-endian values of dt (F32, F16 or BF16) from src's position, advancing it, and
     * widens them into dst[off .. off+count).
     */
    public static void decode(DType dt, ByteBuffer src, float[] dst, int off, int count) {
        checkRange(dst.length, off, count);
        int bytes = Math.multiplyExact(count, dt.bytes());
        if (src.remaining() < bytes) {
            throw new IllegalArgumentException("need " + bytes + " bytes of " + dt + ", buffer has " + src.remaining());
        }
        // a private little-endian view: the caller's buffer keeps its own byte order
        ByteBuffer le = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        switch (dt) {
            case F32 -> le.asFloatBuffer().get(dst, off, count);
            case F16 -> {
                ShortBuffer in = le.asShortBuffer();
                short[] tmp = new short[Math.min(count, CHUNK)];
                for (int done = 0; done < count; ) {
                    int n = Math.min(tmp.length, count - done);
                    in.get(tmp, 0, n);
                    for (int i = 0; i < n; i++) {
                        dst[off + done + i] = HALF_TO_FLOAT[tmp[i] & 0xFFFF];
                    }
                    done += n;
                }
            }
            case BF16 -> {
                ShortBuffer in = le.asShortBuffer();
                short[] tmp = new short[Math.min(count, CHUNK)];
                for (int done = 0; done < count; ) {
                    int n = Math.min(tmp.length, count - done);
                    in.get(tmp, 0, n);
                    for (int i = 0; i < n; i++) {
                        dst[off + done + i] = Float.intBitsToFloat((tmp[i] & 0xFFFF) << 16);
                    }
                    done += n;
                }
            }
            default -> throw notFloat(dt);
        }
        src.position(src.position() + bytes);
    }

    /**
     * Narrows src[off .. off+count) to dt (F32, F16 or BF16) and writes it little-endian at dst's
     * position, advancing it.
     */
    public static void encode(DType dt, float[] src, int off, int count, ByteBuffer dst) {
        checkRange(src.length, off, count);
        int bytes = Math.multiplyExact(count, dt.bytes());
        if (dst.remaining() < bytes) {
            throw new IllegalArgumentException("need room for " + bytes + " bytes of " + dt + ", buffer has "
                    + dst.remaining());
        }
        ByteBuffer le = dst.slice().order(ByteOrder.LITTLE_ENDIAN);
        switch (dt) {
            case F32 -> {
                FloatBuffer out = le.asFloatBuffer();
                out.put(src, off, count);
            }
            case F16, BF16 -> {
                ShortBuffer out = le.asShortBuffer();
                short[] tmp = new short[Math.min(count, CHUNK)];
                boolean half = dt == DType.F16;
                for (int done = 0; done < count; ) {
                    int n = Math.min(tmp.length, count - done);
                    for (int i = 0; i < n; i++) {
                        float v = src[off + done + i];
                        tmp[i] = half ? floatToHalf(v) : floatToBf16(v);
                    }
                    out.put(tmp, 0, n);
                    done += n;
                }
            }
            default -> throw notFloat(dt);
        }
        dst.position(dst.position() + bytes);
    }

    /** Smallest float32 magnitude (bits) that rounds to bfloat16 infinity: 0x7F7F8000, ties going to even 2^128. */
    private static final int BF16_OVERFLOW_BITS = 0x7F7F8000;

    /**
     * The index in src[off .. off+count) of the first value that is not finite once written as dt (NaN, an
     * infinity, or a finite float32 that rounds to infinity in F16 or BF16), or -1 where every value is finite there.
     */
    public static int firstNonFinite(DType dt, float[] src, int off, int count) {
        checkRange(src.length, off, count);
        int limit = switch (dt) {
            case F16 -> HALF_OVERFLOW_BITS;
            case BF16 -> BF16_OVERFLOW_BITS;
            default -> 0x7F800000;
        };
        for (int i = 0; i < count; i++) {
            if ((Float.floatToRawIntBits(src[off + i]) & 0x7FFFFFFF) >= limit) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The index (in elements from src's position) of the first little-endian dt value in src's remaining bytes whose
     * exponent bits are all ones (an infinity or a NaN), or -1; src's position is not moved. Non-float dtypes: -1.
     */
    public static long firstNonFinite(DType dt, ByteBuffer src) {
        ByteBuffer le = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        switch (dt) {
            case F32 -> {
                for (int i = 0; i + 4 <= le.limit(); i += 4) {
                    if ((le.getInt(i) & 0x7F800000) == 0x7F800000) {
                        return i / 4;
                    }
                }
            }
            case F16 -> {
                for (int i = 0; i + 2 <= le.limit(); i += 2) {
                    if ((le.getShort(i) & 0x7C00) == 0x7C00) {
                        return i / 2;
                    }
                }
            }
            case BF16 -> {
                for (int i = 0; i + 2 <= le.limit(); i += 2) {
                    if ((le.getShort(i) & 0x7F80) == 0x7F80) {
                        return i / 2;
                    }
                }
            }
            default -> {
                return -1;
            }
        }
        return -1;
    }

    /** The value at element i of src's remaining little-endian dt values, widened (for an error line). */
    public static float valueAt(DType dt, ByteBuffer src, long i) {
        ByteBuffer le = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        return switch (dt) {
            case F32 -> le.getFloat((int) (i * 4));
            case F16 -> halfToFloat(le.getShort((int) (i * 2)));
            case BF16 -> bf16ToFloat(le.getShort((int) (i * 2)));
            default -> Float.NaN;
        };
    }

    private static void checkRange(int length, int off, int count) {
        if (off < 0 || count < 0 || off > length - count) {
            throw new IndexOutOfBoundsException("range [" + off + ", " + off + " + " + count + ") outside array of "
                    + length);
        }
    }

    private static IllegalArgumentException notFloat(DType dt) {
        return new IllegalArgumentException(dt + " is not a float type this engine converts (use F32, F16 or BF16)");
    }
}
