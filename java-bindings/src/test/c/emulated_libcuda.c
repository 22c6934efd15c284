/*
 * An emulated CUDA driver (libcuda.so.1) for tests on machines without a GPU: "devices" whose memory is
 * host memory, streams that run everything at once (so it can find no races: real-GPU ordering stays
 * untested here), and cuLaunchKernel running a C transcription of each kernel in cuda-kernels/, grid and
 * block shape included, so per-block partials come out as on a GPU. It exists to test the Java side's
 * orchestration (sizes, offsets, stream and event calls, argument packing, the solve's bookkeeping),
 * not the kernels: those are tested against their Java references on a real GPU.
 *
 * It also records what the engine asks of it, in call order, one letter per call (wudi_emu_trace, not part of CUDA),
 * so that tests can count host synchronisations, allocations and launches and see where they fall:
 *   S  the host waits: cuStreamSynchronize, cuEventSynchronize, cuCtxSynchronize, a synchronous cuMemcpy
 *   A  cuMemAlloc      F  cuMemFree      P  cuMemHostAlloc      p  cuMemFreeHost
 *   M  a launch of wudi_fused_adam (one per Adam step)      K  any other kernel launch
 *   G  a cuBLAS product (SGEMM, SSYRK; noted by emulated_cublas.c through wudi_emu_note)      X  a cuBLAS saxpy
 *   C  an asynchronous copy or memset      R  cuEventRecord      W  cuStreamWaitEvent
 *   E  cuEventCreate      T  cuStreamCreate
 *
 * Build: cc -O2 -ffp-contract=off -I ../../../../cuda-kernels/check -shared -fPIC -Wl,-soname,libcuda.so.1 \
 *            -o libcuda.so.1 emulated_libcuda.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wudi_reference.h"   /* cuda-kernels/check: build with -I pointing there */

typedef unsigned long long CUdeviceptr;
typedef int CUresult;
#define OK 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_INVALID_IMAGE 200
#define CUDA_ERROR_NOT_FOUND 500

/*
 * Devices: WUDI_EMU_DEVICES of them (default 1, at most 16), each with WUDI_EMU_DEVICE_BYTES of memory (default
 * 8 GiB) counted apart; the current device is per thread, as a CUDA context is. WUDI_EMU_FAIL_DEVICE=k[,m...] makes
 * every kernel launch on those devices fail (CUDA_ERROR_LAUNCH_FAILED), for tests of a device that fails mid-merge.
 */
#define MAX_DEVICES 16
#define CUDA_ERROR_LAUNCH_FAILED 719
static size_t in_use[MAX_DEVICES];
static __thread int current = 0;
static int env_int(const char *name, int dflt) { const char *v = getenv(name); return v && *v ? atoi(v) : dflt; }
static int device_count(void) { int n = env_int("WUDI_EMU_DEVICES", 1); return n < 1 ? 1 : n > MAX_DEVICES ? MAX_DEVICES : n; }
static size_t total_bytes(void) { const char *v = getenv("WUDI_EMU_DEVICE_BYTES"); return v && *v ? (size_t)strtoull(v, 0, 10) : 8ull << 30; }
#define CTX_BASE 0xc0ffee00ul
/* whether WUDI_EMU_FAIL_DEVICE (a comma-separated list of device numbers) names this device */
static int failing(int dev) {
    const char *v = getenv("WUDI_EMU_FAIL_DEVICE");
    while (v && *v) {
        char *end;
        long d = strtol(v, &end, 10);
        if (end == v) return 0;
        if (d == dev) return 1;
        v = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* ---- the call trace (see the top of this file) ---- */
#define TRACE_CAPACITY (8L << 20)
static char trace_buf[TRACE_CAPACITY];
static long trace_len;   /* may exceed the capacity: then the trace lost its tail, and wudi_emu_trace says so */
void wudi_emu_note(char what) {
    long i = __atomic_fetch_add(&trace_len, 1, __ATOMIC_SEQ_CST);
    if (i < TRACE_CAPACITY) trace_buf[i] = what;
}
/* Copies the trace since the last reset into buf (at most cap letters); returns its whole length. */
long wudi_emu_trace(char *buf, long cap) {
    long n = __atomic_load_n(&trace_len, __ATOMIC_SEQ_CST);
    long k = n < cap ? n : cap;
    if (k > TRACE_CAPACITY) k = TRACE_CAPACITY;
    memcpy(buf, trace_buf, (size_t)k);
    return n;
}
void wudi_emu_reset(void) { __atomic_store_n(&trace_len, 0, __ATOMIC_SEQ_CST); }

/* ---- device, context ---- */
CUresult cuInit(unsigned int flags) { return OK; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return OK; }
CUresult cuDeviceGetCount(int *n) { *n = device_count(); return OK; }
CUresult cuDeviceGet(int *dev, int ordinal) { if (ordinal < 0 || ordinal >= device_count()) return CUDA_ERROR_INVALID_VALUE; *dev = ordinal; return OK; }
CUresult cuDeviceGetName(char *name, int len, int dev) { snprintf(name, len, "Emulated GPU %d (host memory)", dev); return OK; }
CUresult cuDeviceGetAttribute(int *v, int attribute, int dev) {
    switch (attribute) {
        case 16: *v = 4; return OK;   /* multiprocessors */
        case 75: *v = 9; return OK;   /* compute capability major */
        case 76: *v = 0; return OK;   /* minor */
        default: *v = 0; return OK;
    }
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int dev) { *bytes = total_bytes(); return OK; }
CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) { *ctx = (void *)(CTX_BASE + (unsigned long)dev); return OK; }
CUresult cuDevicePrimaryCtxRelease_v2(int dev) { return OK; }
CUresult cuCtxSetCurrent(void *ctx) {
    unsigned long c = (unsigned long)ctx;
    if (c < CTX_BASE || c >= CTX_BASE + (unsigned long)device_count()) return CUDA_ERROR_INVALID_VALUE;
    current = (int)(c - CTX_BASE);
    return OK;
}
CUresult cuCtxSynchronize(void) { wudi_emu_note('S'); return OK; }
CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    size_t used = __atomic_load_n(&in_use[current], __ATOMIC_SEQ_CST);
    *free_bytes = total_bytes() - used; *total = total_bytes(); return OK;
}

/* ---- memory: a header (size, device) before each block, so frees can be counted ---- */
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    int dev = current;
    if (__atomic_add_fetch(&in_use[dev], bytes, __ATOMIC_SEQ_CST) > total_bytes()) {
        __atomic_sub_fetch(&in_use[dev], bytes, __ATOMIC_SEQ_CST);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    char *raw = aligned_alloc(256, 256 + ((bytes + 255) / 256) * 256);
    if (!raw) { __atomic_sub_fetch(&in_use[dev], bytes, __ATOMIC_SEQ_CST); return CUDA_ERROR_OUT_OF_MEMORY; }
    memset(raw + 256, 0xff, bytes);   /* poison: NaN floats, so unwritten reads show */
    ((size_t *)raw)[0] = bytes;
    ((size_t *)raw)[1] = (size_t)dev;
    *p = (CUdeviceptr)(raw + 256);
    wudi_emu_note('A');
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
    char *raw = (char *)p - 256;
    __atomic_sub_fetch(&in_use[((size_t *)raw)[1]], ((size_t *)raw)[0], __ATOMIC_SEQ_CST);
    free(raw);
    wudi_emu_note('F');
    return OK;
}
CUresult cuMemHostAlloc(void **p, size_t bytes, unsigned int flags) { wudi_emu_note('P'); *p = malloc(bytes); return *p ? OK : CUDA_ERROR_OUT_OF_MEMORY; }
CUresult cuMemFreeHost(void *p) { wudi_emu_note('p'); free(p); return OK; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) { wudi_emu_note('S'); memcpy((void *)d, s, n); return OK; }
CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) { wudi_emu_note('S'); memcpy(d, (void *)s, n); return OK; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, void *st) { wudi_emu_note('C'); memcpy((void *)d, s, n); return OK; }
CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n, void *st) { wudi_emu_note('C'); memcpy(d, (void *)s, n); return OK; }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, void *st) { wudi_emu_note('C'); memmove((void *)d, (void *)s, n); return OK; }
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void *st) { wudi_emu_note('C'); memset((void *)d, v, n); return OK; }

/* ---- streams and events: everything has already happened ---- */
CUresult cuStreamCreate(void **s, unsigned int flags) { wudi_emu_note('T'); *s = malloc(1); return OK; }
CUresult cuStreamDestroy_v2(void *s) { free(s); return OK; }
CUresult cuStreamSynchronize(void *s) { wudi_emu_note('S'); return OK; }
CUresult cuStreamWaitEvent(void *s, void *e, unsigned int flags) { wudi_emu_note('W'); return OK; }
CUresult cuEventCreate(void **e, unsigned int flags) { wudi_emu_note('E'); *e = calloc(1, sizeof(double)); return OK; }
CUresult cuEventDestroy_v2(void *e) { free(e); return OK; }
CUresult cuEventRecord(void *e, void *s) {
    struct timespec ts;
    wudi_emu_note('R');
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *(double *)e = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    return OK;
}
CUresult cuEventSynchronize(void *e) { wudi_emu_note('S'); return OK; }
CUresult cuEventElapsedTime(float *ms, void *start, void *end) { *ms = (float)(*(double *)end - *(double *)start); return OK; }

/* ---- the kernels, through the C references of cuda-kernels/check/wudi_reference.h ---- */
#define THREADS WUDI_REF_THREADS

typedef void (*emulated_kernel)(int grid, int block, void **p);

#define ARG(type, i) (*(type *)p[i])

static void k_task_vector_f32(int grid, int block, void **p) {
    const float *wi = ARG(float *, 0), *w0 = ARG(float *, 1); float *tau = ARG(float *, 2); long long n = ARG(long long, 3);
    for (long long k = 0; k < n; k++) tau[k] = wi[k] - w0[k];
}
static void k_task_vector_16(void **p, int bf) {
    const uint16_t *wi = ARG(uint16_t *, 0), *w0 = ARG(uint16_t *, 1); float *tau = ARG(float *, 2); long long n = ARG(long long, 3);
    for (long long k = 0; k < n; k++)
        tau[k] = bf ? wudi_ref_bf16_to_f32(wi[k]) - wudi_ref_bf16_to_f32(w0[k]) : wudi_ref_f16_to_f32(wi[k]) - wudi_ref_f16_to_f32(w0[k]);
}
static void k_task_vector_bf16(int g, int b, void **p) { k_task_vector_16(p, 1); }
static void k_task_vector_f16(int g, int b, void **p) { k_task_vector_16(p, 0); }
static void k_f32_to_bf16(int g, int b, void **p) {
    const float *s = ARG(float *, 0); uint16_t *d = ARG(uint16_t *, 1); long long n = ARG(long long, 2);
    for (long long k = 0; k < n; k++) d[k] = wudi_ref_f32_to_bf16(s[k]);
}
static void k_f32_to_f16(int g, int b, void **p) {
    const float *s = ARG(float *, 0); uint16_t *d = ARG(uint16_t *, 1); long long n = ARG(long long, 2);
    for (long long k = 0; k < n; k++) d[k] = wudi_ref_f32_to_f16(s[k]);
}
static void k_bf16_to_f32(int g, int b, void **p) {
    const uint16_t *s = ARG(uint16_t *, 0); float *d = ARG(float *, 1); long long n = ARG(long long, 2);
    for (long long k = 0; k < n; k++) d[k] = wudi_ref_bf16_to_f32(s[k]);
}
static void k_f16_to_f32(int g, int b, void **p) {
    const uint16_t *s = ARG(uint16_t *, 0); float *d = ARG(float *, 1); long long n = ARG(long long, 2);
    for (long long k = 0; k < n; k++) d[k] = wudi_ref_f16_to_f32(s[k]);
}
static double t_sq(void *ctx, long long k) { void **p = ctx; const float *x = ARG(float *, 0); return (double)x[k] * x[k]; }
static void k_squared_norm_partials(int g, int b, void **p) {
    wudi_ref_partials(g, ARG(long long, 1), t_sq, p, ARG(double *, 2));
}
static double t_loss(void *ctx, long long k) {
    void **p = ctx;
    const float *P = ARG(float *, 0), *D = ARG(float *, 1), *T = ARG(float *, 2);
    return ((double)P[k] - 2.0 * (double)D[k]) * (double)T[k];
}
static void k_interference_loss_partials(int g, int b, void **p) {
    wudi_ref_partials(g, ARG(long long, 3), t_loss, p, ARG(double *, 4));
}
static void k_reduce_partials(int g, int b, void **p) {
    ARG(double *, 2)[ARG(int, 3)] = wudi_ref_reduce_partials(ARG(double *, 0), ARG(int, 1));
}
static void k_symmetrize_from_upper(int g, int b, void **p) {
    wudi_ref_symmetrize_from_upper(ARG(float *, 0), ARG(int, 1));
}
static double t_adam(void *ctx, long long k) {
    void **p = ctx;
    const float *P = ARG(float *, 0), *D = ARG(float *, 1);
    float *m = ARG(float *, 2), *v = ARG(float *, 3), *tau = ARG(float *, 4);
    return wudi_ref_adam_element(P[k], D[k], &m[k], &v[k], &tau[k], (const wudi_ref_adam_scalars *)p[6]);
}
static void k_fused_adam(int g, int b, void **p) {
    wudi_ref_partials(g, ARG(long long, 5), t_adam, p, ARG(double *, 7));   /* null partials: no loss written */
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
    if (failing(current)) return CUDA_ERROR_LAUNCH_FAILED;
    const typeof(KERNELS[0]) *k = f;
    wudi_emu_note(k->fn == k_fused_adam ? 'M' : 'K');
    k->fn((int)gx, (int)bx, params);
    return OK;
}
