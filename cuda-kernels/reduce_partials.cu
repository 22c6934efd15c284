// Second pass of every deterministic reduction: folds `count` per-block partials (count <=
// WUDI_MAX_BLOCKS) in a fixed order and stores the total at out[slot]. Writing to a slot lets the
// backend keep one value per task (K terms) or per step (losses) on the device and read them all at once.
//
// ---- reference ----
// sum of the partials (the order only moves the last bits of a double).
//
// ---- kernels ----
#include "wudi_common.cuh"

// partials is (count) doubles; out is a double array with at least slot + 1 entries. One block.
extern "C" __global__ void wudi_reduce_partials(const double* __restrict__ partials, int count,
                                                double* __restrict__ out, int slot) {
    double acc = 0.0;
    for (int k = threadIdx.x; k < count; k += blockDim.x) {  // guard: k < count
        acc += partials[k];
    }
    double total = wudi_block_sum(acc);
    if (threadIdx.x == 0) {
        out[slot] = total;
    }
}

// ---- launch notes ----
// grid = 1, block = WUDI_THREADS.
