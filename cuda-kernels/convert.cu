// Dtype conversion on the device: bf16/fp16 -> fp32 (exact widening) and fp32 -> bf16/fp16 with
// round-to-nearest-even, NaN kept NaN (quieted, sign and top payload bits kept), overflow to infinity.
//
// ---- reference ----
// dev.wudi.cuda.reference.HalfPrecision: bf16ToFloat, f16ToFloat, floatToBf16, floatToF16, bit for bit.
//
// ---- kernels ----
#include "wudi_common.cuh"
#include <cuda_fp16.h>

__device__ __forceinline__ uint16_t wudi_float_to_bf16_rne(float x) {
    uint32_t u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) {          // NaN: truncate and set the quiet bit
        return (uint16_t)((u >> 16) | 0x0040u);
    }
    u += 0x7fffu + ((u >> 16) & 1u);                  // round half to even on bit 16
    return (uint16_t)(u >> 16);
}

__device__ __forceinline__ uint16_t wudi_float_to_f16_rne(float x) {
    uint32_t u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) {          // NaN: sign, quiet bit, top 9 payload bits
        return (uint16_t)(((u >> 16) & 0x8000u) | 0x7e00u | ((u >> 13) & 0x3ffu));
    }
    return __half_as_ushort(__float2half_rn(x));      // IEEE RNE, overflow to inf, subnormals kept
}

// src is (n) float32, dst is (n) bfloat16 bits.
extern "C" __global__ void wudi_f32_to_bf16(const float* __restrict__ src, uint16_t* __restrict__ dst, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += stride) {  // guard
        dst[k] = wudi_float_to_bf16_rne(src[k]);
    }
}

// src is (n) float32, dst is (n) binary16 bits.
extern "C" __global__ void wudi_f32_to_f16(const float* __restrict__ src, uint16_t* __restrict__ dst, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += stride) {  // guard
        dst[k] = wudi_float_to_f16_rne(src[k]);
    }
}

// src is (n) bfloat16 bits, dst is (n) float32.
extern "C" __global__ void wudi_bf16_to_f32(const uint16_t* __restrict__ src, float* __restrict__ dst, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += stride) {  // guard
        dst[k] = __uint_as_float(((uint32_t)src[k]) << 16);
    }
}

// src is (n) binary16 bits, dst is (n) float32.
extern "C" __global__ void wudi_f16_to_f32(const uint16_t* __restrict__ src, float* __restrict__ dst, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += stride) {  // guard
        dst[k] = __half2float(__ushort_as_half(src[k]));
    }
}

// ---- launch notes ----
// Conversions run once per tensor on the way in or out, never inside the 300-step loop, so they use
// plain coalesced 2- and 4-byte accesses; grid = WudiKernels.elementwiseGrid(n).
