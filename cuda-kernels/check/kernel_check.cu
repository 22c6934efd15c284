// kernel_check: every kernel of cuda-kernels/ against the C references of wudi_reference.h on fresh random
// inputs, outputs poisoned first, then timed against a device-to-device copy (llm.c style). Needs only
// nvcc and a GPU, no JVM:
//     cmake -S . -B build && cmake --build build --target kernel_check && build/kernel_check
// Exit status 1 if any check fails. Bit-exact everywhere: every float output rounds like the reference, and
// the double reductions add in the reference's order with no multiply-add fused (--fmad=false, as the fatbin).
#include "../wudi_kernels.cu"
#include "wudi_reference.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#define CHECK_CUDA(call)                                                                          \
    do {                                                                                          \
        cudaError_t e_ = (call);                                                                  \
        if (e_ != cudaSuccess) {                                                                  \
            std::fprintf(stderr, "%s failed: %s at %s:%d\n", #call, cudaGetErrorName(e_), __FILE__, __LINE__); \
            std::exit(2);                                                                         \
        }                                                                                         \
    } while (0)

static std::mt19937_64 rng(std::random_device{}());
static int failures = 0;

static std::vector<float> gaussian(size_t n, double scale) {
    std::normal_distribution<double> d(0.0, scale);
    std::vector<float> x(n);
    for (auto &v : x) v = (float)d(rng);
    return x;
}

template <typename T>
static T *to_device(const std::vector<T> &h) {
    T *d;
    CHECK_CUDA(cudaMalloc(&d, std::max<size_t>(1, h.size()) * sizeof(T)));
    CHECK_CUDA(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

template <typename T>
static std::vector<T> to_host(const T *d, size_t n) {
    CHECK_CUDA(cudaDeviceSynchronize());
    std::vector<T> h(n);
    CHECK_CUDA(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

template <typename T>
static T *poisoned(size_t n) {
    T *d;
    CHECK_CUDA(cudaMalloc(&d, std::max<size_t>(1, n) * sizeof(T)));
    CHECK_CUDA(cudaMemset(d, 0xff, n * sizeof(T)));   // NaN floats: unwritten elements fail
    return d;
}

template <typename T>
static void same_bits(const char *what, size_t n, const std::vector<T> &want, const std::vector<T> &got) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (std::memcmp(&want[i], &got[i], sizeof(T)) != 0) {
            if (bad < 5) {
                double w = (double)want[i], g = (double)got[i];
                std::printf("  %s[%zu]: reference %.9g kernel %.9g\n", what, i, w, g);
            }
            bad++;
        }
    }
    std::printf("CHECK %-34s n=%-9zu %s (%zu of %zu differ)\n", what, n, bad ? "FAIL" : "ok", bad, n);
    failures += bad != 0;
}

static void close_to(const char *what, size_t n, double want, double got) {
    bool ok = std::memcmp(&want, &got, sizeof want) == 0;     // the same bits, not merely close
    std::printf("CHECK %-34s n=%-9zu %s (reference %.17g kernel %.17g)\n", what, n, ok ? "ok" : "FAIL", want, got);
    failures += !ok;
}

static int elementwise_grid(long long items) {
    long long b = (items + WUDI_THREADS - 1) / WUDI_THREADS;
    return (int)std::max(1LL, std::min(65535LL, b));
}

static void check_task_vectors(size_t n) {
    auto wi = gaussian(n, 1), w0 = gaussian(n, 1);
    std::vector<uint16_t> bi(n), b0(n), hi(n), h0(n);
    std::vector<float> want(n), wantB(n), wantH(n);
    for (size_t k = 0; k < n; k++) {
        bi[k] = wudi_ref_f32_to_bf16(wi[k]);
        b0[k] = wudi_ref_f32_to_bf16(w0[k]);
        hi[k] = wudi_ref_f32_to_f16(wi[k]);
        h0[k] = wudi_ref_f32_to_f16(w0[k]);
        want[k] = wi[k] - w0[k];
        wantB[k] = wudi_ref_bf16_to_f32(bi[k]) - wudi_ref_bf16_to_f32(b0[k]);
        wantH[k] = wudi_ref_f16_to_f32(hi[k]) - wudi_ref_f16_to_f32(h0[k]);
    }
    float *dwi = to_device(wi), *dw0 = to_device(w0), *tau = poisoned<float>(n);
    uint16_t *dbi = to_device(bi), *db0 = to_device(b0), *dhi = to_device(hi), *dh0 = to_device(h0);
    wudi_task_vector_f32<<<elementwise_grid((n + 3) / 4), WUDI_THREADS>>>(dwi, dw0, tau, n);
    CHECK_CUDA(cudaGetLastError());
    same_bits("task_vector_f32", n, want, to_host(tau, n));
    CHECK_CUDA(cudaMemset(tau, 0xff, n * 4));
    wudi_task_vector_bf16<<<elementwise_grid((n + 7) / 8), WUDI_THREADS>>>(dbi, db0, tau, n);
    CHECK_CUDA(cudaGetLastError());
    same_bits("task_vector_bf16", n, wantB, to_host(tau, n));
    CHECK_CUDA(cudaMemset(tau, 0xff, n * 4));
    wudi_task_vector_f16<<<elementwise_grid((n + 7) / 8), WUDI_THREADS>>>(dhi, dh0, tau, n);
    CHECK_CUDA(cudaGetLastError());
    same_bits("task_vector_f16", n, wantH, to_host(tau, n));
    for (void *p : {(void *)dwi, (void *)dw0, (void *)tau, (void *)dbi, (void *)db0, (void *)dhi, (void *)dh0}) CHECK_CUDA(cudaFree(p));
}

static void check_conversions() {
    size_t n = 1 << 16;
    std::vector<uint16_t> all(n);
    std::vector<float> wantB(n), wantH(n);
    for (size_t k = 0; k < n; k++) {
        all[k] = (uint16_t)k;
        wantB[k] = wudi_ref_bf16_to_f32(all[k]);
        wantH[k] = wudi_ref_f16_to_f32(all[k]);
    }
    uint16_t *src = to_device(all);
    float *dst = poisoned<float>(n);
    wudi_bf16_to_f32<<<elementwise_grid(n), WUDI_THREADS>>>(src, dst, n);
    CHECK_CUDA(cudaGetLastError());
    same_bits("bf16_to_f32 (all patterns)", n, wantB, to_host(dst, n));
    wudi_f16_to_f32<<<elementwise_grid(n), WUDI_THREADS>>>(src, dst, n);
    CHECK_CUDA(cudaGetLastError());
    auto gotH = to_host(dst, n);
    for (size_t k = 0; k < n; k++)   // NaN payloads may be canonicalised by the hardware: NaN must stay NaN
        if (std::isnan(wantH[k]) && std::isnan(gotH[k])) gotH[k] = wantH[k];
    same_bits("f16_to_f32 (all patterns)", n, wantH, gotH);

    size_t m = 1 << 20;
    std::vector<float> x(m);
    for (auto &v : x) {
        uint32_t u = (uint32_t)rng();
        std::memcpy(&v, &u, 4);   // every exponent: subnormals, overflow, inf, NaN
    }
    std::vector<uint16_t> wb(m), wh(m);
    for (size_t k = 0; k < m; k++) {
        wb[k] = wudi_ref_f32_to_bf16(x[k]);
        wh[k] = wudi_ref_f32_to_f16(x[k]);
    }
    float *dx = to_device(x);
    uint16_t *dh = poisoned<uint16_t>(m);
    wudi_f32_to_bf16<<<elementwise_grid(m), WUDI_THREADS>>>(dx, dh, m);
    CHECK_CUDA(cudaGetLastError());
    same_bits("f32_to_bf16 (random bits)", m, wb, to_host(dh, m));
    wudi_f32_to_f16<<<elementwise_grid(m), WUDI_THREADS>>>(dx, dh, m);
    CHECK_CUDA(cudaGetLastError());
    same_bits("f32_to_f16 (random bits)", m, wh, to_host(dh, m));
    for (void *p : {(void *)src, (void *)dst, (void *)dx, (void *)dh}) CHECK_CUDA(cudaFree(p));
}

struct LossCtx { const float *p, *d, *t; };
static double loss_term(void *c, long long k) {
    const LossCtx *x = (const LossCtx *)c;
    return ((double)x->p[k] - 2.0 * (double)x->d[k]) * (double)x->t[k];
}
static double square_term(void *c, long long k) { const float *x = (const float *)c; return (double)x[k] * x[k]; }
struct AdamCtx { const float *p, *d; float *m, *v, *t; const wudi_ref_adam_scalars *s; };
static double adam_term(void *c, long long k) {
    AdamCtx *x = (AdamCtx *)c;
    return wudi_ref_adam_element(x->p[k], x->d[k], &x->m[k], &x->v[k], &x->t[k], x->s);
}

static void check_reductions_and_adam(size_t n) {
    auto p = gaussian(n, 1), d = gaussian(n, 1), t = gaussian(n, 0.01), m = gaussian(n, 0.1), v = gaussian(n, 0.1);
    for (auto &x : v) x = std::fabs(x);
    int grid = wudi_ref_reduction_grid(n);
    std::vector<double> partials(grid);
    float *dp = to_device(p), *dd = to_device(d), *dt = to_device(t), *dm = to_device(m), *dv = to_device(v);
    double *dpart = poisoned<double>(WUDI_MAX_BLOCKS), *dout = poisoned<double>(4);

    wudi_ref_partials(grid, n, square_term, (void *)p.data(), partials.data());
    double wantNorm = wudi_ref_reduce_partials(partials.data(), grid);
    wudi_squared_norm_partials<<<grid, WUDI_THREADS>>>(dp, n, dpart);
    wudi_reduce_partials<<<1, WUDI_THREADS>>>(dpart, grid, dout, 0);
    CHECK_CUDA(cudaGetLastError());
    close_to("squared_norm", n, wantNorm, to_host(dout, 1)[0]);

    LossCtx lc{p.data(), d.data(), t.data()};
    wudi_ref_partials(grid, n, loss_term, &lc, partials.data());
    double wantLoss = wudi_ref_reduce_partials(partials.data(), grid);
    wudi_interference_loss_partials<<<grid, WUDI_THREADS>>>(dp, dd, dt, n, dpart);
    wudi_reduce_partials<<<1, WUDI_THREADS>>>(dpart, grid, dout, 1);
    CHECK_CUDA(cudaGetLastError());
    close_to("interference_loss", n, wantLoss, to_host(dout, 2)[1]);

    for (int step = 1; step <= 3; step++) {
        double bc1 = 1 - std::pow(0.9, step), bc2 = 1 - std::pow(0.999, step);
        wudi_ref_adam_scalars rs{0.9f, (float)(1 - 0.9), 0.999f, (float)(1 - 0.999), (float)(1e-5 / bc1), (float)std::sqrt(bc2), 1e-8f};
        WudiAdamScalars ks{rs.b1, rs.one_minus_b1, rs.b2, rs.one_minus_b2, rs.step_size, rs.bc2_sqrt, rs.eps};
        AdamCtx ac{p.data(), d.data(), m.data(), v.data(), t.data(), &rs};
        wudi_ref_partials(grid, n, adam_term, &ac, partials.data());
        double wantAdamLoss = wudi_ref_reduce_partials(partials.data(), grid);
        wudi_fused_adam<<<grid, WUDI_THREADS>>>(dp, dd, dm, dv, dt, n, ks, dpart);
        wudi_reduce_partials<<<1, WUDI_THREADS>>>(dpart, grid, dout, 2);
        CHECK_CUDA(cudaGetLastError());
        same_bits("fused_adam m", n, m, to_host(dm, n));
        same_bits("fused_adam v", n, v, to_host(dv, n));
        same_bits("fused_adam tau", n, t, to_host(dt, n));
        close_to("fused_adam loss at step start", n, wantAdamLoss, to_host(dout, 3)[2]);
    }
    for (void *q : {(void *)dp, (void *)dd, (void *)dt, (void *)dm, (void *)dv, (void *)dpart, (void *)dout}) CHECK_CUDA(cudaFree(q));
}

static void check_symmetrize(int n) {
    auto g = gaussian((size_t)n * n, 1);
    auto want = g;
    wudi_ref_symmetrize_from_upper(want.data(), n);
    float *dg = to_device(g);
    wudi_symmetrize_from_upper<<<elementwise_grid((long long)n * n), WUDI_THREADS>>>(dg, n);
    CHECK_CUDA(cudaGetLastError());
    same_bits("symmetrize_from_upper", (size_t)n * n, want, to_host(dg, (size_t)n * n));
    CHECK_CUDA(cudaFree(dg));
}

template <typename F>
static float median_ms(F launch, int reps = 20) {
    cudaEvent_t a, b;
    CHECK_CUDA(cudaEventCreate(&a));
    CHECK_CUDA(cudaEventCreate(&b));
    for (int i = 0; i < 3; i++) launch();
    std::vector<float> ms(reps);
    for (int i = 0; i < reps; i++) {
        CHECK_CUDA(cudaEventRecord(a));
        launch();
        CHECK_CUDA(cudaEventRecord(b));
        CHECK_CUDA(cudaEventSynchronize(b));
        CHECK_CUDA(cudaEventElapsedTime(&ms[i], a, b));
    }
    CHECK_CUDA(cudaGetLastError());
    std::sort(ms.begin(), ms.end());
    return ms[reps / 2];
}

static void time_kernels(size_t rows, size_t cols) {
    size_t n = rows * cols, copyBytes = 1ull << 30;
    char *ca = poisoned<char>(copyBytes), *cb = poisoned<char>(copyBytes);
    float copyMs = median_ms([&] { CHECK_CUDA(cudaMemcpyAsync(cb, ca, copyBytes, cudaMemcpyDeviceToDevice)); });
    double copyGbs = 2.0 * copyBytes / copyMs / 1e6;
    CHECK_CUDA(cudaFree(ca));
    CHECK_CUDA(cudaFree(cb));
    std::printf("TIME %-34s %-12s %9.4f ms %8.1f GB/s (ceiling)\n", "device-to-device copy", "1 GiB", copyMs, copyGbs);
    auto p = gaussian(n, 1), d = gaussian(n, 1), t = gaussian(n, 0.01), m = gaussian(n, 0.1), v = gaussian(n, 0.1);
    for (auto &x : v) x = std::fabs(x);
    float *dp = to_device(p), *dd = to_device(d), *dt = to_device(t), *dm = to_device(m), *dv = to_device(v);
    double *dpart = poisoned<double>(WUDI_MAX_BLOCKS), *dout = poisoned<double>(1);
    uint16_t *h0 = poisoned<uint16_t>(n), *h1 = poisoned<uint16_t>(n);
    wudi_f32_to_bf16<<<elementwise_grid(n), WUDI_THREADS>>>(dp, h0, n);
    wudi_f32_to_bf16<<<elementwise_grid(n), WUDI_THREADS>>>(dd, h1, n);
    int grid = wudi_ref_reduction_grid(n);
    WudiAdamScalars ks{0.9f, 0.1f, 0.999f, 0.001f, 1e-5f, 0.1f, 1e-8f};
    char shape[32];
    std::snprintf(shape, sizeof shape, "%zux%zu", rows, cols);
    auto row = [&](const char *what, double bytes, float ms) {
        std::printf("TIME %-34s %-12s %9.4f ms %8.1f GB/s %5.0f%% of copy\n", what, shape, ms, bytes / ms / 1e6, 100 * bytes / ms / 1e6 / copyGbs);
    };
    row("fused_adam + loss partials", 32.0 * n, median_ms([&] { wudi_fused_adam<<<grid, WUDI_THREADS>>>(dp, dd, dm, dv, dt, n, ks, dpart); }));
    row("fused_adam, no loss", 32.0 * n, median_ms([&] { wudi_fused_adam<<<grid, WUDI_THREADS>>>(dp, dd, dm, dv, dt, n, ks, nullptr); }));
    row("interference_loss (2 passes)", 12.0 * n, median_ms([&] {
        wudi_interference_loss_partials<<<grid, WUDI_THREADS>>>(dp, dd, dt, n, dpart);
        wudi_reduce_partials<<<1, WUDI_THREADS>>>(dpart, grid, dout, 0); }));
    row("squared_norm (2 passes)", 4.0 * n, median_ms([&] {
        wudi_squared_norm_partials<<<grid, WUDI_THREADS>>>(dp, n, dpart);
        wudi_reduce_partials<<<1, WUDI_THREADS>>>(dpart, grid, dout, 0); }));
    row("task_vector_f32", 12.0 * n, median_ms([&] { wudi_task_vector_f32<<<elementwise_grid((n + 3) / 4), WUDI_THREADS>>>(dp, dd, dt, n); }));
    row("task_vector_bf16", 8.0 * n, median_ms([&] { wudi_task_vector_bf16<<<elementwise_grid((n + 7) / 8), WUDI_THREADS>>>(h0, h1, dt, n); }));
    row("f32_to_bf16", 6.0 * n, median_ms([&] { wudi_f32_to_bf16<<<elementwise_grid(n), WUDI_THREADS>>>(dp, h0, n); }));
    row("bf16_to_f32", 6.0 * n, median_ms([&] { wudi_bf16_to_f32<<<elementwise_grid(n), WUDI_THREADS>>>(h0, dt, n); }));
    for (void *q : {(void *)dp, (void *)dd, (void *)dt, (void *)dm, (void *)dv, (void *)dpart, (void *)dout, (void *)h0, (void *)h1}) CHECK_CUDA(cudaFree(q));
}

int main(int argc, char **argv) {
    cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("# kernel_check on %s (compute %d.%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    for (size_t n : {1ul, 3ul, 4ul, 5ul, 9ul, 1023ul, 4103ul, (1ul << 20) | 3}) check_task_vectors(n);
    check_conversions();
    for (size_t n : {1ul, 5ul, 1021ul, (1ul << 20) | 2, 3ul << 20}) check_reductions_and_adam(n);
    for (int n : {1, 2, 17, 768, 1031}) check_symmetrize(n);
    size_t rows = argc > 2 ? std::strtoul(argv[1], nullptr, 10) : 4096, cols = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 4096;
    time_kernels(rows, cols);
    std::printf("%s: %d failing check(s)\n", failures ? "FAIL" : "OK", failures);
    return failures ? 1 : 0;
}
