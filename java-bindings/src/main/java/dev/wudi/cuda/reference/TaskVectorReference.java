package dev.wudi.cuda.reference;

/**
 * Host reference of cuda-kernels/task_vector.cu: tau = widen(W_i) - widen(W_0), one float32 subtraction per
 * element (specification 1 and 2.1).
 */
public final class TaskVectorReference {

    private TaskVectorReference() {
    }

    public static float[] fromF32(float[] wi, float[] w0) {
        check(wi.length, w0.length);
        float[] tau = new float[wi.length];
        for (int k = 0; k < tau.length; k++) {
            tau[k] = wi[k] - w0[k];
        }
        return tau;
    }

    public static float[] fromBf16(short[] wi, short[] w0) {
        check(wi.length, w0.length);
        float[] tau = new float[wi.length];
        for (int k = 0; k < tau.length; k++) {
            tau[k] = HalfPrecision.bf16ToFloat(wi[k]) - HalfPrecision.bf16ToFloat(w0[k]);
        }
        return tau;
    }

    public static float[] fromF16(short[] wi, short[] w0) {
        check(wi.length, w0.length);
        float[] tau = new float[wi.length];
        for (int k = 0; k < tau.length; k++) {
            tau[k] = HalfPrecision.f16ToFloat(wi[k]) - HalfPrecision.f16ToFloat(w0[k]);
        }
        return tau;
    }

    private static void check(int a, int b) {
        if (a != b) {
            throw new IllegalArgumentException("W_i has " + a + " elements but W_0 has " + b);
        }
    }
}
