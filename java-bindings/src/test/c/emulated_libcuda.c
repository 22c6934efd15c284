/*
 * An emulated CUDA driver (libcuda.so.1) for tests on machines without a GPU: one "device" whose memory is
 * host memory, streams that run everything at once (so it can find no races: real-GPU ordering stays
 * untested here), and cuLaunchKernel running a C transcription of each kernel in cuda-kernels/, grid and
 * block shape included, so per-block partials come out as on a GPU. It exists to test the Java side's
 * orchestration (sizes, offsets, stream and event calls, argument packing, the solve's bookkeeping),
 * not the kernels: those are tested against their Java references on a real GPU.
 *
 * Build: cc -O2 -ffp-contract=off -shared -fPIC -Wl,-soname,libcuda.so.1 -o libcuda.so.1 emulated_libcuda.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef unsigned long long CUdeviceptr;
typedef int CUresult;
#define OK 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_INVALID_IMAGE 200
#define CUDA_ERROR_NOT_FOUND 500

static const size_t TOTAL = 8ull << 30;
static size_t in_use = 0;

/* ---- device, context ---- */
CUresult cuInit(unsigned int flags) { return OK; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return OK; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return OK; }
CUresult cuDeviceGet(int *dev, int ordinal) { if (ordinal != 0) return CUDA_ERROR_INVALID_VALUE; *dev = 0; return OK; }
CUresult cuDeviceGetName(char *name, int len, int dev) { snprintf(name, len, "Emulated GPU (host memory)"); return OK; }
CUresult cuDeviceGetAttribute(int *v, int attribute, int dev) {
    switch (attribute) {
        case 16: *v = 4; return OK;   /* multiprocessors */
        case 75: *v = 9; return OK;   /* compute capability major */
        case 76: *v = 0; return OK;   /* minor */
        default: *v = 0; return OK;
    }
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int dev) { *bytes = TOTAL; return OK; }
CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) { *ctx = (void *)0xc0ffee; return OK; }
CUresult cuDevicePrimaryCtxRelease_v2(int dev) { return OK; }
CUresult cuCtxSetCurrent(void *ctx) { return ctx == (void *)0xc0ffee ? OK : CUDA_ERROR_INVALID_VALUE; }
CUresult cuCtxSynchronize(void) { return OK; }
CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) { *free_bytes = TOTAL - in_use; *total = TOTAL; return OK; }

/* ---- memory: a size header before each block, so frees can be counted ---- */
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (in_use + bytes > TOTAL) return CUDA_ERROR_OUT_OF_MEMORY;
    char *raw = aligned_alloc(256, 256 + ((bytes + 255) / 256) * 256);
    if (!raw) return CUDA_ERROR_OUT_OF_MEMORY;
    memset(raw + 256, 0xff, bytes);   /* poison: NaN floats, so unwritten reads show */
    *(size_t *)raw = bytes;
    in_use += bytes;
    *p = (CUdeviceptr)(raw + 256);
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
    char *raw = (char *)p - 256;
    in_use -= *(size_t *)raw;
    free(raw);
    return OK;
}
CUresult cuMemHostAlloc(void **p, size_t bytes, unsigned int flags) { *p = malloc(bytes); return *p ? OK : CUDA_ERROR_OUT_OF_MEMORY; }
CUresult cuMemFreeHost(void *p) { free(p); return OK; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) { memcpy((void *)d, s, n); return OK; }
CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) { memcpy(d, (void *)s, n); return OK; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, void *st) { memcpy((void *)d, s, n); return OK; }
CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n, void *st) { memcpy(d, (void *)s, n); return OK; }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, void *st) { memmove((void *)d, (void *)s, n); return OK; }
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void *st) { memset((void *)d, v, n); return OK; }

/* ---- streams and events: everything has already happened ---- */
CUresult cuStreamCreate(void **s, unsigned int flags) { *s = malloc(1); return OK; }
CUresult cuStreamDestroy_v2(void *s) { free(s); return OK; }
CUresult cuStreamSynchronize(void *s) { return OK; }
CUresult cuStreamWaitEvent(void *s, void *e, unsigned int flags) { return OK; }
CUresult cuEventCreate(void **e, unsigned int flags) { *e = calloc(1, sizeof(double)); return OK; }
CUresult cuEventDestroy_v2(void *e) { free(e); return OK; }
CUresult cuEventRecord(void *e, void *s) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *(double *)e = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    return OK;
}
CUresult cuEventSynchronize(void *e) { return OK; }
CUresult cuEventElapsedTime(float *ms, void *start, void *end) { *ms = (float)(*(double *)end - *(double *)start); return OK; }

/* ---- the kernels, transcribed from cuda-kernels/ ---- */
#define THREADS 256

typedef void (*emulated_kernel)(int grid, int block, void **p);

static uint16_t f32_to_bf16(float x) {
    uint32_t u; memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static float bf16_to_f32(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0x1f) u = sign | 0x7f800000u | (m << 13);
    else if (e == 0) { float v = m * 0x1p-24f; return sign ? -v : v; }
    else u = sign | ((e + 112) << 23) | (m << 13);
    float f; memcpy(&f, &u, 4); return f;
}
static uint16_t f32_to_f16(float x) {
    uint32_t f; memcpy(&f, &x, 4);
    uint32_t sign = (f >> 16) & 0x8000, a = f & 0x7fffffff;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);
    if (a >= 0x38800000u) { uint32_t r = a - 0x38000000u; r += 0x0fff + ((r >> 13) & 1); return (uint16_t)(sign | (r >> 13)); }
    if (a <= 0x33000000u) return (uint16_t)sign;
    int e = a >> 23, shift = 126 - e;
    uint32_t mant = (a & 0x7fffff) | 0x800000, h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* wudi_block_sum: the shared-memory tree over THREADS slots */
static double block_sum(double *slots) {
    for (int half = THREADS / 2; half > 0; half >>= 1)
        for (int t = 0; t < half; t++) slots[t] += slots[t + half];
    return slots[0];
}

#define ARG(type, i) (*(type *)p[i])

static void k_task_vector_f32(int grid, int block, void **p) {
    const float *wi = ARG(float *, 0), *w0 = ARG(float *, 1); float *tau = ARG(float *, 2); long long n = ARG(long long, 3);
    for (long long k = 0; k < n; k++) tau[k] = wi[k] - w0[k];
}
static void k_task_vector_16(void **p, int bf) {
    const uint16_t *wi = ARG(uint16_t *, 0), *w0 = ARG(uint16_t *, 1); float *tau = ARG(float *, 2); long long n = ARG(long long, 3);
    for (long long k = 0; k < n; k++) tau[k] = bf ? bf16_to_f32(wi[k]) - bf16_to_f32(w0[k]) : f16_to_f32(wi[k]) - f16_to_f32(w0[k]);
}
static void k_task_vector_bf16(int g, int b, void **p) { k_task_vector_16(p, 1); }
static void k_task_vector_f16(int g, int b, void **p) { k_task_vector_16(p, 0); }
static void k_f32_to_bf16(int g, int b, void **p) {
    const float *s = ARG(float *, 0); uint16_t *d = ARG(uint16_t *, 1); long long n = ARG(long long, 2);
    for (long long k = 0; k < n; k++) d[k] = f32_to_bf16(s[k]);
}
static void k_f32_to_f16(int g, int b, void **p) {
    const float *s = ARG(float *, 0); uint16_t *d = ARG(uint16_t *, 1); long long n = ARG(long long, 2);
    for (long long k = 0; k < n; k++) d[k] = f32_to_f16(s[k]);
}
static void k_bf16_to_f32(int g, int b, void **p) {
    const uint16_t *s = ARG(uint16_t *, 0); float *d = ARG(float *, 1); long long n = ARG(long long, 2);
    for (long long k = 0; k < n; k++) d[k] = bf16_to_f32(s[k]);
}
static void k_f16_to_f32(int g, int b, void **p) {
    const uint16_t *s = ARG(uint16_t *, 0); float *d = ARG(float *, 1); long long n = ARG(long long, 2);
    for (long long k = 0; k < n; k++) d[k] = f16_to_f32(s[k]);
}

/* One reducing kernel's per-thread slice, as in the float4 grid-stride loop plus the scalar tail. */
typedef double (*term_fn)(void **p, long long k);
static void reduce_blocks(int grid, void **p, long long n, term_fn term, double *partials) {
    long long n4 = n / 4, stride = (long long)grid * THREADS;
    double slots[THREADS];
    for (int b = 0; b < grid; b++) {
        for (int t = 0; t < THREADS; t++) {
            long long tid = (long long)b * THREADS + t;
            double acc = 0;
            for (long long k = tid; k < n4; k += stride)
                acc += term(p, 4 * k) + term(p, 4 * k + 1) + term(p, 4 * k + 2) + term(p, 4 * k + 3);
            if (4 * n4 + tid < n) acc += term(p, 4 * n4 + tid);
            slots[t] = acc;
        }
        double total = block_sum(slots);
        if (partials) partials[b] = total;
    }
}
static double t_sq(void **p, long long k) { const float *x = ARG(float *, 0); return (double)x[k] * x[k]; }
static void k_squared_norm_partials(int g, int b, void **p) {
    reduce_blocks(g, p, ARG(long long, 1), t_sq, ARG(double *, 2));
}
static double t_loss(void **p, long long k) {
    const float *P = ARG(float *, 0), *D = ARG(float *, 1), *T = ARG(float *, 2);
    return ((double)P[k] - 2.0 * (double)D[k]) * (double)T[k];
}
static void k_interference_loss_partials(int g, int b, void **p) {
    reduce_blocks(g, p, ARG(long long, 3), t_loss, ARG(double *, 4));
}
static void k_reduce_partials(int g, int b, void **p) {
    const double *part = ARG(double *, 0); int count = ARG(int, 1); double *out = ARG(double *, 2); int slot = ARG(int, 3);
    double slots[THREADS];
    for (int t = 0; t < THREADS; t++) { double acc = 0; for (int k = t; k < count; k += THREADS) acc += part[k]; slots[t] = acc; }
    out[slot] = block_sum(slots);
}
static void k_symmetrize_from_upper(int g, int b, void **p) {
    float *G = ARG(float *, 0); int n = ARG(int, 1);
    for (long long j = 0; j < n; j++) for (long long i = j + 1; i < n; i++) G[i + j * n] = G[j + i * (long long)n];
}
typedef struct { float b1, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps; } adam_scalars;
static double t_adam(void **p, long long k) {
    const float *P = ARG(float *, 0), *D = ARG(float *, 1); float *m = ARG(float *, 2), *v = ARG(float *, 3), *tau = ARG(float *, 4);
    const adam_scalars s = ARG(adam_scalars, 6);
    double loss = ((double)P[k] - 2.0 * (double)D[k]) * (double)tau[k];
    float g = 2.0f * (P[k] - D[k]);
    float diff = g - m[k];
    m[k] = s.one_minus_b1 < 0.5f ? m[k] + s.one_minus_b1 * diff : g - diff * (1.0f - s.one_minus_b1);
    v[k] = v[k] * s.b2 + (s.one_minus_b2 * g) * g;
    float denom = sqrtf(v[k]) / s.bc2_sqrt + s.eps;
    tau[k] = tau[k] - (s.step_size * m[k]) / denom;
    return loss;
}
static void k_fused_adam(int g, int b, void **p) {
    reduce_blocks(g, p, ARG(long long, 5), t_adam, ARG(double *, 7));   /* null partials: no loss written */
}

static const struct { const char *name; emulated_kernel fn; } KERNELS[] = {
    {"wudi_task_vector_f32", k_task_vector_f32}, {"wudi_task_vector_bf16", k_task_vector_bf16},
    {"wudi_task_vector_f16", k_task_vector_f16}, {"wudi_f32_to_bf16", k_f32_to_bf16}, {"wudi_f32_to_f16", k_f32_to_f16},
    {"wudi_bf16_to_f32", k_bf16_to_f32}, {"wudi_f16_to_f32", k_f16_to_f32},
    {"wudi_squared_norm_partials", k_squared_norm_partials}, {"wudi_interference_loss_partials", k_interference_loss_partials},
    {"wudi_reduce_partials", k_reduce_partials}, {"wudi_symmetrize_from_upper", k_symmetrize_from_upper},
    {"wudi_fused_adam", k_fused_adam},
};

CUresult cuModuleLoadData(void **module, const void *image) {
    uint32_t magic; memcpy(&magic, image, 4);
    if (magic != 0xBA55ED50u) return CUDA_ERROR_INVALID_IMAGE;   /* only a real fatbin is accepted */
    *module = (void *)0xf00d;
    return OK;
}
CUresult cuModuleUnload(void *module) { return OK; }
CUresult cuModuleGetFunction(void **f, void *module, const char *name) {
    for (size_t i = 0; i < sizeof KERNELS / sizeof KERNELS[0]; i++)
        if (strcmp(KERNELS[i].name, name) == 0) { *f = (void *)&KERNELS[i]; return OK; }
    return CUDA_ERROR_NOT_FOUND;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void *stream, void **params, void **extra) {
    if (bx != THREADS || by != 1 || bz != 1 || gy != 1 || gz != 1 || gx == 0) return CUDA_ERROR_INVALID_VALUE;
    ((const typeof(KERNELS[0]) *)f)->fn((int)gx, (int)bx, params);
    return OK;
}
