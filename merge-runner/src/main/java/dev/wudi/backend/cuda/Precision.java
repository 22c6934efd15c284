package dev.wudi.backend.cuda;

import java.util.Locale;

/**
 * The arithmetic of the per-step GEMM P = tau_m C on the GPU ({@code --precision}).
 * FP32 (the default) is faithful: true float32 products, the same trajectory as the CPU reference up to
 * float32 rounding. TF32 runs the step GEMM on tensor cores (CUBLAS_TF32_TENSOR_OP_MATH, 10-bit
 * mantissas in the products): faster, not bit-faithful, relative error near 1e-3 in P. C, D, the norms,
 * the losses and Adam itself stay float32/float64 in both.
 */
public enum Precision {
    FP32, TF32;

    public static Precision parse(String s) {
        switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "fp32": case "f32": case "float32": return FP32;
            case "tf32": return TF32;
            default: throw new IllegalArgumentException("unknown precision '" + s + "' (use fp32 or tf32)");
        }
    }

    public String flag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
