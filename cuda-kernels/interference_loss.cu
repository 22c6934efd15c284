// InterferenceLoss at the current iterate from the Gram form (specification 2.2):
//     L(tau_m) = <tau_m C, tau_m> - 2 <tau_m, D> + K = sum_k (P_k - 2 D_k) tau_k + K,   P = tau_m C
// This pass computes the sum over k (one partial per block); K is added on the host. The fused Adam
// kernel computes the same partials during a step; this standalone kernel gives the loss after the last
// step (and when steps = 0).
//
// ---- reference ----
// dev.wudi.cuda.reference.ReductionReference.interferenceLoss: sum in double of
// ((double) P_k - 2 (double) D_k) * (double) tau_k.
//
// ---- kernels ----
#include "wudi_common.cuh"

__device__ __forceinline__ double wudi_loss_term(float p, float d, float t) {
    return ((double)p - 2.0 * (double)d) * (double)t;
}

// P, D, tau are (rows, cols) row-major float32 flattened to (n); partials is (gridDim.x) doubles.
extern "C" __global__ void wudi_interference_loss_partials(const float* __restrict__ P, const float* __restrict__ D,
                                                           const float* __restrict__ tau, long long n,
                                                           double* __restrict__ partials) {
    const long long n4 = n / 4;
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const float4* P4 = reinterpret_cast<const float4*>(P);
    const float4* D4 = reinterpret_cast<const float4*>(D);
    const float4* T4 = reinterpret_cast<const float4*>(tau);
    double acc = 0.0;
    for (long long k = tid; k < n4; k += stride) {
        float4 p = P4[k], d = D4[k], t = T4[k];
        acc += wudi_loss_term(p.x, d.x, t.x) + wudi_loss_term(p.y, d.y, t.y)
             + wudi_loss_term(p.z, d.z, t.z) + wudi_loss_term(p.w, d.w, t.w);
    }
    const long long k = 4 * n4 + tid;  // scalar tail
    if (k < n) {                       // guard
        acc += wudi_loss_term(P[k], D[k], tau[k]);
    }
    double total = wudi_block_sum(acc);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = total;
    }
}

// ---- launch notes ----
// grid = WudiKernels.reductionGrid(n), block = WUDI_THREADS, then wudi_reduce_partials.
