// Shared launch geometry and the deterministic block reduction used by every reducing kernel.
//
// Determinism: every reduction runs on a grid whose size depends on n alone (never on the device), each
// thread accumulates its grid-stride slice in double in a fixed order (the four terms of a float4 added
// together, then to the running sum), each block folds its threads in a fixed shared-memory tree and
// writes ONE partial, and wudi_reduce_partials folds the partials in a fixed tree. The fatbin is built
// with --fmad=false, so no multiply and add is contracted into an FMA: every double operation rounds on
// its own, as in the C and Java references. Same inputs, same bits, on any GPU and in the references
// (check/wudi_reference.h, ReductionReference.*InKernelOrder). No atomics anywhere.
#pragma once

#include <stdint.h>

#define WUDI_THREADS 256           // threads per block for every kernel in this fatbin
#define WUDI_MAX_BLOCKS 1024       // upper bound of a reducing grid; partial buffers hold this many doubles

// Folds one double per thread into thread 0 of the block; returns the block total in thread 0.
// Fixed order: a shared-memory tree over WUDI_THREADS slots, then a warp-shuffle-free tail (plain
// shared memory keeps the order identical on every architecture).
__device__ __forceinline__ double wudi_block_sum(double x) {
    __shared__ double slots[WUDI_THREADS];
    slots[threadIdx.x] = x;
    __syncthreads();
    for (int half = WUDI_THREADS / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) {
            slots[threadIdx.x] += slots[threadIdx.x + half];
        }
        __syncthreads();
    }
    return slots[0];
}
