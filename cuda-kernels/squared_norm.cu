// Per-task squared Frobenius norm ||x||_F^2 = sum_k x_k^2, for the task weight w_i = 1 / ||tau_i||_F^2
// (specification 2) and for K's terms ||tau_i^T tau_i||_F^2 (specification 2.2). Deterministic two-pass reduction
// (see wudi_common.cuh): this pass writes one double per block, wudi_reduce_partials folds them.
//
// ---- reference ----
// dev.wudi.cuda.reference.ReductionReference.squaredNorm: sum in double of (double) x_k * x_k.
//
// ---- kernels ----
#include "wudi_common.cuh"

// x is (n) float32, 16-byte aligned; partials is (gridDim.x) doubles.
extern "C" __global__ void wudi_squared_norm_partials(const float* __restrict__ x, long long n,
                                                      double* __restrict__ partials) {
    const long long n4 = n / 4;
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    double acc = 0.0;
    for (long long k = tid; k < n4; k += stride) {
        float4 a = x4[k];
        acc += (double)a.x * a.x + (double)a.y * a.y + (double)a.z * a.z + (double)a.w * a.w;
    }
    const long long k = 4 * n4 + tid;  // scalar tail
    if (k < n) {                       // guard
        acc += (double)x[k] * x[k];
    }
    double total = wudi_block_sum(acc);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = total;
    }
}

// ---- launch notes ----
// grid = WudiKernels.reductionGrid(n) (a function of n only, <= WUDI_MAX_BLOCKS), block = WUDI_THREADS.
