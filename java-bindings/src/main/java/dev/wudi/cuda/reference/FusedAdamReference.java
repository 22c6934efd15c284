package dev.wudi.cuda.reference;

import dev.wudi.adam.AdamStepScalars;

/**
 * Host reference of cuda-kernels/fused_adam.cu: one PyTorch Adam step on tau from P = tau C and D, in
 * float32 with the same operation order (Java float arithmetic rounds every operation and never fuses,
 * like the kernel's _rn intrinsics), so m, v and tau agree with the kernel bit for bit.
 */
public final class FusedAdamReference {

    private FusedAdamReference() {
    }

    /**
     * Updates m, v, tau in place and returns sum_k (P_k - 2 D_k) tau_k at the step's start (the loss
     * without K, in double).
     */
    public static double step(float[] p, float[] d, float[] m, float[] v, float[] tau, AdamStepScalars s) {
        int n = tau.length;
        if (p.length != n || d.length != n || m.length != n || v.length != n) {
            throw new IllegalArgumentException("P, D, m, v, tau must all have " + n + " elements");
        }
        double loss = 0;
        for (int k = 0; k < n; k++) {
            loss += ((double) p[k] - 2.0 * (double) d[k]) * (double) tau[k];
            float g = 2.0f * (p[k] - d[k]);                                  // grad L = 2 (tau C - D)
            float diff = g - m[k];
            m[k] = s.lerpWeight() < 0.5f ? m[k] + s.lerpWeight() * diff       // torch lerp_
                                         : g - diff * (1.0f - s.lerpWeight());
            v[k] = v[k] * s.beta2() + (s.oneMinusBeta2() * g) * g;                 // mul_(b2).addcmul_(g, g, 1 - b2)
            float denom = (float) Math.sqrt(v[k]) / s.bc2Sqrt() + s.eps();   // sqrt(v) / sqrt(bc2) + eps
            tau[k] = tau[k] - (s.stepSize() * m[k]) / denom;                 // addcdiv_(m, denom, -step_size)
        }
        return loss;
    }
}
