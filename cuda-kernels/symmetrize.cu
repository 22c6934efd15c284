// cublasSsyrk writes one triangle of G = tau^T tau; C += w G and D += w tau G need all of G.
// In column-major terms (cuBLAS's view) SYRK with CUBLAS_FILL_MODE_UPPER fills G[i + j n] for i <= j;
// this kernel copies it onto the other triangle: G[i + j n] = G[j + i n] for i > j. Reads touch only the
// upper triangle and writes only the lower one, so one pass has no read-after-write hazard.
//
// ---- reference ----
// dev.wudi.cuda.reference.SymmetrizeReference.fromUpper (same indexing).
//
// ---- kernels ----
#include "wudi_common.cuh"

// G is (n, n) float32, column-major as cuBLAS sees it (the matrix is symmetric, so row-major readers
// see the same values once this has run).
extern "C" __global__ void wudi_symmetrize_from_upper(float* __restrict__ G, int n) {
    const long long total = (long long)n * n;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += stride) {  // guard
        const long long i = idx % n;   // row (column-major)
        const long long j = idx / n;   // column
        if (i > j) {
            G[idx] = G[j + i * (long long)n];
        }
    }
}

// ---- launch notes ----
// Runs once per task vector on a (cols, cols) matrix, next to a SYRK of 2*rows*cols^2/2 flops, so the
// strided reads of this simple version cost little; grid = WudiKernels.elementwiseGrid(n * n).
