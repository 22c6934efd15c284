// TaskVector: tau_i = W_i - W_0 (specification 1), widened to float32 on the fly (specification 2.1: all optimisation
// arithmetic in float32 whatever the checkpoint dtype).
//
// ---- reference ----
// dev.wudi.cuda.reference.TaskVectorReference: tau[k] = widen(wi[k]) - widen(w0[k]) in float32,
// widen(bf16 b) = bits(b) << 16 (exact), widen(f16 h) = the exact float of h.
//
// ---- kernels ----
#include "wudi_common.cuh"
#include <cuda_fp16.h>

__device__ __forceinline__ float wudi_bf16_bits_to_float(uint32_t bits16) {
    return __uint_as_float(bits16 << 16);
}

__device__ __forceinline__ float wudi_f16_bits_to_float(uint32_t bits16) {
    return __half2float(__ushort_as_half((unsigned short)bits16));
}

// wi, w0, tau are (n) float32, 16-byte aligned (cuMemAlloc guarantees it).
extern "C" __global__ void wudi_task_vector_f32(const float* __restrict__ wi, const float* __restrict__ w0,
                                                float* __restrict__ tau, long long n) {
    const long long n4 = n / 4;
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const float4* wi4 = reinterpret_cast<const float4*>(wi);
    const float4* w04 = reinterpret_cast<const float4*>(w0);
    float4* tau4 = reinterpret_cast<float4*>(tau);
    for (long long k = tid; k < n4; k += stride) {
        float4 a = wi4[k], b = w04[k];
        tau4[k] = make_float4(__fsub_rn(a.x, b.x), __fsub_rn(a.y, b.y), __fsub_rn(a.z, b.z), __fsub_rn(a.w, b.w));
    }
    const long long k = 4 * n4 + tid;  // scalar tail, fewer than 4 elements
    if (k < n) {                       // guard
        tau[k] = __fsub_rn(wi[k], w0[k]);
    }
}

// The 16-bit variants read 8 elements (16 bytes) per load. is_bf16 selects the widening.
__device__ __forceinline__ void wudi_task_vector_16(const uint16_t* __restrict__ wi, const uint16_t* __restrict__ w0,
                                                    float* __restrict__ tau, long long n, bool is_bf16) {
    const long long n8 = n / 8;
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const uint4* wi8 = reinterpret_cast<const uint4*>(wi);
    const uint4* w08 = reinterpret_cast<const uint4*>(w0);
    float4* tau4 = reinterpret_cast<float4*>(tau);
    for (long long k = tid; k < n8; k += stride) {
        uint4 a = wi8[k], b = w08[k];
        uint32_t aw[4] = {a.x, a.y, a.z, a.w}, bw[4] = {b.x, b.y, b.z, b.w};
        float out[8];
#pragma unroll
        for (int q = 0; q < 4; ++q) {  // little-endian: the low half of each word is the earlier element
            float alo = is_bf16 ? wudi_bf16_bits_to_float(aw[q] & 0xffffu) : wudi_f16_bits_to_float(aw[q] & 0xffffu);
            float ahi = is_bf16 ? wudi_bf16_bits_to_float(aw[q] >> 16) : wudi_f16_bits_to_float(aw[q] >> 16);
            float blo = is_bf16 ? wudi_bf16_bits_to_float(bw[q] & 0xffffu) : wudi_f16_bits_to_float(bw[q] & 0xffffu);
            float bhi = is_bf16 ? wudi_bf16_bits_to_float(bw[q] >> 16) : wudi_f16_bits_to_float(bw[q] >> 16);
            out[2 * q] = __fsub_rn(alo, blo);
            out[2 * q + 1] = __fsub_rn(ahi, bhi);
        }
        tau4[2 * k] = make_float4(out[0], out[1], out[2], out[3]);
        tau4[2 * k + 1] = make_float4(out[4], out[5], out[6], out[7]);
    }
    const long long k = 8 * n8 + tid;  // scalar tail, fewer than 8 elements
    if (k < n) {                       // guard
        float a = is_bf16 ? wudi_bf16_bits_to_float(wi[k]) : wudi_f16_bits_to_float(wi[k]);
        float b = is_bf16 ? wudi_bf16_bits_to_float(w0[k]) : wudi_f16_bits_to_float(w0[k]);
        tau[k] = __fsub_rn(a, b);
    }
}

// wi, w0 are (n) bfloat16 bit patterns; tau is (n) float32.
extern "C" __global__ void wudi_task_vector_bf16(const uint16_t* __restrict__ wi, const uint16_t* __restrict__ w0,
                                                 float* __restrict__ tau, long long n) {
    wudi_task_vector_16(wi, w0, tau, n, true);
}

// wi, w0 are (n) IEEE binary16 bit patterns; tau is (n) float32.
extern "C" __global__ void wudi_task_vector_f16(const uint16_t* __restrict__ wi, const uint16_t* __restrict__ w0,
                                                float* __restrict__ tau, long long n) {
    wudi_task_vector_16(wi, w0, tau, n, false);
}

// ---- launch notes ----
// grid = WudiKernels.elementwiseGrid(n): enough blocks of WUDI_THREADS to cover n/4 (or n/8) vectors,
// capped; the grid-stride loop covers the rest. The tail needs tid < 8, always inside block 0.
