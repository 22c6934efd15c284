// FusedAdam on the CPU: the host twin of fused_adam.cu, built by the root CMakeLists.txt with the C
// compiler into libwudi_cpu.so, which java-bindings packs into its jar and the CPU backend calls (JNA) on
// its own threads, one block of rows each. One Adam step of specification 2.1 on tau_m, given P = tau_m C from the
// step's sgemm (specification 2.2):
//     g     = 2 (P - D)                                   grad L = 2 (tau_m C - D)
//     m     = fma(1 - b1, g - m, m)                       torch lerp_ (ATen CPU, weight < 0.5)
//     v     = (v b2) + ((1 - b2) g) g                     torch mul_ then addcmul_
//     denom = sqrt(v) / sqrt(1 - b2^t) + eps
//     tau   = tau + (-(lr / (1 - b1^t)) m) / denom        torch addcdiv_, value = -step_size
// Why C and not Java: the arrays live in native memory because OpenBLAS reads tau_m and writes P there,
// and HotSpot 17 vectorises loops over heap arrays only. In Java the pass had to copy P in and tau_m out
// (48 bytes of traffic per element, about 2 ns); here it reads P, D, m, v, tau and writes m, v, tau once
// (32 bytes), vectorised, at about 0.5 ns per element on the development machine.
//
// ---- rounding ----
// Built with -ffp-contract=off and without -ffast-math: every operation rounds once, as in Java, and the
// only fused multiply-add is the explicit fmaf of lerp_. Vector sqrt, div, add, mul and fma round exactly
// like their scalar forms, so the result is bit for bit dev.wudi.solver.Adam.stepGramForm (tested from
// Java, NativeAdamPassTest). The loss terms are summed in double in the order of Adam.gramLossTerms, one
// chunk at a time as CpuWudiProblem's Java pass does, so the losses agree to the bit as well.
//
// ---- reference ----
// dev.wudi.solver.Adam.stepGramForm and Adam.gramLossTerms (merge-runner).
#include <math.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
// One library for every x86-64 machine: the loader picks the AVX-512, the AVX2+FMA or the baseline
// version at load time (glibc ifunc). Without FMA hardware fmaf is a libm call: correct, slower.
#define WUDI_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WUDI_CLONES
#endif

#define WUDI_EXPORT __attribute__((visibility("default")))
#define WUDI_INLINE static inline __attribute__((always_inline))

// sum over [0, n) of (P - 2 D) tau in double with four partial sums, exactly Adam.gramLossTerms.
WUDI_INLINE double loss_terms(const float* restrict p, const float* restrict d, const float* restrict tau,
                              int64_t n) {
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    int64_t i = 0;
    for (; i + 3 < n; i += 4) {
        a0 += ((double)p[i] - 2.0 * (double)d[i]) * (double)tau[i];
        a1 += ((double)p[i + 1] - 2.0 * (double)d[i + 1]) * (double)tau[i + 1];
        a2 += ((double)p[i + 2] - 2.0 * (double)d[i + 2]) * (double)tau[i + 2];
        a3 += ((double)p[i + 3] - 2.0 * (double)d[i + 3]) * (double)tau[i + 3];
    }
    for (; i < n; i++) {
        a0 += ((double)p[i] - 2.0 * (double)d[i]) * (double)tau[i];
    }
    return (a0 + a1) + (a2 + a3);
}

// The update on [0, n). lerp_ has two forms (ATen picks by the weight); the weight is the same for every
// element, so the choice is made once and each loop stays branch-free and vectorisable.
WUDI_INLINE void adam_update(const float* restrict p, const float* restrict d, float* restrict m,
                             float* restrict v, float* restrict tau, int64_t n, float lerp_weight,
                             float beta2, float one_minus_beta2, float bc2_sqrt, float eps,
                             float neg_step_size) {
    if (fabsf(lerp_weight) < 0.5f) {
        for (int64_t i = 0; i < n; i++) {
            const float g = 2.0f * (p[i] - d[i]);
            const float mi = fmaf(lerp_weight, g - m[i], m[i]);
            const float vi = v[i] * beta2 + (one_minus_beta2 * g) * g;
            m[i] = mi;
            v[i] = vi;
            tau[i] = tau[i] + (neg_step_size * mi) / (sqrtf(vi) / bc2_sqrt + eps);
        }
    } else {
        const float w1 = lerp_weight - 1.0f;
        for (int64_t i = 0; i < n; i++) {
            const float g = 2.0f * (p[i] - d[i]);
            const float mi = fmaf(w1, g - m[i], g);
            const float vi = v[i] * beta2 + (one_minus_beta2 * g) * g;
            m[i] = mi;
            v[i] = vi;
            tau[i] = tau[i] + (neg_step_size * mi) / (sqrtf(vi) / bc2_sqrt + eps);
        }
    }
}

// One Adam step on elements [0, n) of P, D, m, v, tau (the caller offsets the pointers to its block).
// With with_loss != 0 it also returns the loss terms at the step's start, summed chunk by chunk (each
// chunk's terms read before that chunk is updated), the chunks added in order; otherwise 0.
WUDI_EXPORT WUDI_CLONES double wudi_cpu_fused_adam(const float* restrict p, const float* restrict d,
                                                   float* restrict m, float* restrict v, float* restrict tau,
                                                   int64_t n, float lerp_weight, float beta2,
                                                   float one_minus_beta2, float bc2_sqrt, float eps,
                                                   float neg_step_size, int32_t with_loss, int32_t chunk) {
    if (n <= 0) {
        return 0.0;
    }
    if (!with_loss) {
        adam_update(p, d, m, v, tau, n, lerp_weight, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size);
        return 0.0;
    }
    if (chunk <= 0) {
        chunk = 4096;
    }
    double acc = 0.0;
    for (int64_t i = 0; i < n; i += chunk) {
        const int64_t len = n - i < chunk ? n - i : chunk;
        acc += loss_terms(p + i, d + i, tau + i, len);
        adam_update(p + i, d + i, m + i, v + i, tau + i, len, lerp_weight, beta2, one_minus_beta2, bc2_sqrt,
                    eps, neg_step_size);
    }
    return acc;
}

// The loss terms alone on [0, n): sum (P - 2 D) tau in double, in the order of Adam.gramLossTerms.
WUDI_EXPORT double wudi_cpu_gram_loss_terms(const float* restrict p, const float* restrict d,
                                            const float* restrict tau, int64_t n) {
    return n <= 0 ? 0.0 : loss_terms(p, d, tau, n);
}

// Which version of wudi_cpu_fused_adam the loader picked, for the backend's one-line description.
WUDI_EXPORT const char* wudi_cpu_isa(void) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) {
        return "x86-64-v4 (AVX-512)";
    }
    if (__builtin_cpu_supports("x86-64-v3")) {
        return "x86-64-v3 (AVX2, FMA)";
    }
    return "x86-64 baseline (SSE2)";
#elif defined(__aarch64__)
    return "aarch64";
#else
    return "generic";
#endif
}
