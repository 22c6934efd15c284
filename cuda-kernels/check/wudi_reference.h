/*
 * Plain C references of the kernels in cuda-kernels/ (the Java ones in dev.wudi.cuda.reference compute the
 * same), shared by kernel_check.cu (GPU vs reference, on a GPU machine, no JVM needed) and by the
 * emulated driver java-bindings/src/test/c/emulated_libcuda.c (CI without a GPU). Compile with
 * -ffp-contract=off: the kernels round every float operation separately, and so must these.
 */
#ifndef WUDI_REFERENCE_H
#define WUDI_REFERENCE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define WUDI_REF_THREADS 256

static inline float wudi_ref_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t wudi_ref_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);   /* NaN: quiet, keep sign */
    u += 0x7fffu + ((u >> 16) & 1u);                                                /* round half to even */
    return (uint16_t)(u >> 16);
}

static inline float wudi_ref_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0x1f) {
        u = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        float v = m * 0x1p-24f;                                                       /* subnormal, exact */
        return sign ? -v : v;
    } else {
        u = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t wudi_ref_f32_to_f16(float x) {
    uint32_t f;
    memcpy(&f, &x, 4);
    uint32_t sign = (f >> 16) & 0x8000, a = f & 0x7fffffff;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));  /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);                          /* >= 65520: inf */
    if (a >= 0x38800000u) {                                                          /* normal */
        uint32_t r = a - 0x38000000u;
        r += 0x0fff + ((r >> 13) & 1);
        return (uint16_t)(sign | (r >> 13));
    }
    if (a <= 0x33000000u) return (uint16_t)sign;                                     /* <= 2^-25: zero */
    int e = (int)(a >> 23), shift = 126 - e;                                         /* subnormal */
    uint32_t mant = (a & 0x7fffff) | 0x800000, h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* The WudiAdamScalars struct of fused_adam.cu. */
typedef struct {
    float b1, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps;
} wudi_ref_adam_scalars;

/* One element of FusedAdam; returns the loss term (P - 2D) tau at the step's start. */
static inline double wudi_ref_adam_element(float p, float d, float *m, float *v, float *t, const wudi_ref_adam_scalars *s) {
    double loss = ((double)p - 2.0 * (double)d) * (double)*t;
    float g = 2.0f * (p - d);
    float diff = g - *m;
    *m = s->one_minus_b1 < 0.5f ? *m + s->one_minus_b1 * diff : g - diff * (1.0f - s->one_minus_b1);
    *v = *v * s->b2 + (s->one_minus_b2 * g) * g;
    float denom = sqrtf(*v) / s->bc2_sqrt + s->eps;
    *t = *t - (s->step_size * *m) / denom;
    return loss;
}

/* The shared-memory tree of wudi_block_sum over WUDI_REF_THREADS slots. */
static inline double wudi_ref_block_sum(double *slots) {
    for (int half = WUDI_REF_THREADS / 2; half > 0; half >>= 1)
        for (int t = 0; t < half; t++) slots[t] += slots[t + half];
    return slots[0];
}

/*
 * A reducing kernel's partials, exactly as the GPU forms them: block b, thread t walks its grid-stride
 * slice of float4 groups, then the scalar tail; each block folds its threads in the fixed tree.
 * term(ctx, k) gives element k's term (and may update state, as FusedAdam does).
 */
typedef double (*wudi_ref_term)(void *ctx, long long k);

static inline void wudi_ref_partials(int grid, long long n, wudi_ref_term term, void *ctx, double *partials) {
    long long n4 = n / 4, stride = (long long)grid * WUDI_REF_THREADS;
    double slots[WUDI_REF_THREADS];
    for (int b = 0; b < grid; b++) {
        for (int t = 0; t < WUDI_REF_THREADS; t++) {
            long long tid = (long long)b * WUDI_REF_THREADS + t;
            double acc = 0;
            for (long long k = tid; k < n4; k += stride)
                acc += term(ctx, 4 * k) + term(ctx, 4 * k + 1) + term(ctx, 4 * k + 2) + term(ctx, 4 * k + 3);
            if (4 * n4 + tid < n) acc += term(ctx, 4 * n4 + tid);
            slots[t] = acc;
        }
        double total = wudi_ref_block_sum(slots);
        if (partials) partials[b] = total;
    }
}

/* wudi_reduce_partials: one block folding count partials. */
static inline double wudi_ref_reduce_partials(const double *partials, int count) {
    double slots[WUDI_REF_THREADS];
    for (int t = 0; t < WUDI_REF_THREADS; t++) {
        double acc = 0;
        for (int k = t; k < count; k += WUDI_REF_THREADS) acc += partials[k];
        slots[t] = acc;
    }
    return wudi_ref_block_sum(slots);
}

/* wudi_symmetrize_from_upper: column-major G[i + j n] = G[j + i n] for i > j. */
static inline void wudi_ref_symmetrize_from_upper(float *g, int n) {
    for (long long j = 0; j < n; j++)
        for (long long i = j + 1; i < n; i++) g[i + j * n] = g[j + i * (long long)n];
}

/* WudiKernels.reductionGrid: a function of n alone. */
static inline int wudi_ref_reduction_grid(long long n) {
    long long vectors = (n + 3) / 4, blocks = (vectors + WUDI_REF_THREADS - 1) / WUDI_REF_THREADS;
    return (int)(blocks < 1 ? 1 : blocks > 1024 ? 1024 : blocks);
}

#endif
