package dev.wudi.format;

import java.util.Locale;

/**
 * The element types a safetensors header may name. Only F32, F16 and BF16 are merged (widened to
 * float32 for all arithmetic); every other type is carried through byte for byte.
 */
public enum DType {
    BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2),
    I32(4), U32(4), F32(4), F64(8), I64(8), U64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /**
     * The unit roundoff of a floating type: the largest relative error of rounding a real number to it (2^-24 for
     * F32, 2^-11 for F16, 2^-8 for BF16, 2^-53 for F64); NaN for the other types.
     */
    public double unitRoundoff() {
        switch (this) {
            case F32: return 0x1p-24;
            case F16: return 0x1p-11;
            case BF16: return 0x1p-8;
            case F64: return 0x1p-53;
            default: return Double.NaN;
        }
    }

    /** True for the floating types the merge arithmetic reads and writes (F32, F16, BF16). */
    public boolean mergeable() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** The dtype named exactly as in a safetensors header ("F32", "BF16", ...), or null if unknown. */
    public static DType fromHeader(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** Parses a user's --dtype value (case-insensitive; also accepts float32/float16/bfloat16). */
    public static DType parseUser(String s) {
        String u = s.trim().toUpperCase(Locale.ROOT);
        switch (u) {
            case "FLOAT32": case "FP32": return F32;
            case "FLOAT16": case "FP16": case "HALF": return F16;
            case "BFLOAT16": return BF16;
            default:
                DType d = fromHeader(u);
                if (d == null || !d.mergeable()) {
                    throw new IllegalArgumentException("unsupported output dtype '" + s + "' (use f32, f16 or bf16)");
                }
                return d;
        }
    }
}
