// FusedAdam: one Adam step of specification 2.1 on tau_m in a single pass over memory, given P = tau_m C from
// the step GEMM:
//     g     = 2 (P - D)                                   (specification 2.2: grad L = 2 (tau_m C - D))
//     m     = m + (1 - b1) (g - m)                        (torch lerp_, weight < 0.5 branch)
//     v     = b2 v + ((1 - b2) g) g                       (torch mul_ then addcmul_)
//     denom = sqrt(v) / sqrt(1 - b2^t) + eps
//     tau  -= (lr / (1 - b1^t)) m / denom                 (torch addcdiv_, value = -step_size)
// and, from the same loads, the loss terms at the step's start: sum_k (P_k - 2 D_k) tau_k (see
// interference_loss.cu), one double partial per block, so the loss costs no extra pass.
// Every float operation is an explicit _rn intrinsic: nvcc may not contract them into FMAs, so the kernel
// rounds exactly like the Java reference element by element. The loss terms are plain double arithmetic,
// kept unfused by nvcc's --fmad=false (CMakeLists.txt), and summed in the order of wudi_common.cuh.
//
// ---- reference ----
// dev.wudi.cuda.reference.FusedAdamReference.step (bit for bit on m, v, tau); the loss partials bit for bit
// against ReductionReference.interferenceLossInKernelOrder at the step's start.
//
// ---- kernels ----
#include "wudi_common.cuh"

struct WudiAdamScalars {
    float b1;            // beta1
    float one_minus_b1;  // lerp weight, float(1 - beta1) computed in double as PyTorch does
    float b2;            // beta2
    float one_minus_b2;  // float(1 - beta2)
    float step_size;     // float(lr / (1 - beta1^t)), computed in double
    float bc2_sqrt;      // float(sqrt(1 - beta2^t)), computed in double
    float eps;
};

// One element's update; returns its loss term (P - 2 D) tau at the step's start, tau before the update.
__device__ __forceinline__ double wudi_adam_element(float p, float d, float& m, float& v, float& t,
                                                    const WudiAdamScalars& s) {
    const double loss = ((double)p - 2.0 * (double)d) * (double)t;
    const float g = __fmul_rn(2.0f, __fsub_rn(p, d));
    const float diff = __fsub_rn(g, m);
    m = (s.one_minus_b1 < 0.5f) ? __fadd_rn(m, __fmul_rn(s.one_minus_b1, diff))
                                : __fsub_rn(g, __fmul_rn(diff, __fsub_rn(1.0f, s.one_minus_b1)));
    v = __fadd_rn(__fmul_rn(v, s.b2), __fmul_rn(__fmul_rn(s.one_minus_b2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), s.bc2_sqrt), s.eps);
    t = __fsub_rn(t, __fdiv_rn(__fmul_rn(s.step_size, m), denom));
    return loss;
}

// P, D, m, v, tau are (rows, cols) row-major float32 flattened to (n), 16-byte aligned.
// loss_partials is (gridDim.x) doubles, or null to skip the loss (the step is unchanged either way).
extern "C" __global__ void wudi_fused_adam(const float* __restrict__ P, const float* __restrict__ D,
                                           float* __restrict__ m, float* __restrict__ v, float* __restrict__ tau,
                                           long long n, WudiAdamScalars s, double* __restrict__ loss_partials) {
    const long long n4 = n / 4;
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const float4* P4 = reinterpret_cast<const float4*>(P);
    const float4* D4 = reinterpret_cast<const float4*>(D);
    float4* m4 = reinterpret_cast<float4*>(m);
    float4* v4 = reinterpret_cast<float4*>(v);
    float4* t4 = reinterpret_cast<float4*>(tau);
    double loss = 0.0;
    for (long long k = tid; k < n4; k += stride) {
        const float4 p = P4[k], d = D4[k];
        float4 mm = m4[k], vv = v4[k], tt = t4[k];
        const double lx = wudi_adam_element(p.x, d.x, mm.x, vv.x, tt.x, s);
        const double ly = wudi_adam_element(p.y, d.y, mm.y, vv.y, tt.y, s);
        const double lz = wudi_adam_element(p.z, d.z, mm.z, vv.z, tt.z, s);
        const double lw = wudi_adam_element(p.w, d.w, mm.w, vv.w, tt.w, s);
        loss += lx + ly + lz + lw;     // grouped per float4, as every reduction of this fatbin and its reference
        m4[k] = mm;
        v4[k] = vv;
        t4[k] = tt;
    }
    const long long k = 4 * n4 + tid;  // scalar tail, fewer than 4 elements
    if (k < n) {                       // guard
        float mm = m[k], vv = v[k], tt = tau[k];
        loss += wudi_adam_element(P[k], D[k], mm, vv, tt, s);
        m[k] = mm;
        v[k] = vv;
        tau[k] = tt;
    }
    if (loss_partials != nullptr) {    // uniform branch: every thread of the grid takes the same side
        double total = wudi_block_sum(loss);
        if (threadIdx.x == 0) {
            loss_partials[blockIdx.x] = total;
        }
    }
}

// ---- launch notes ----
// Bytes per element: 5 float reads (P, D, m, v, tau) + 3 float writes = 32 B; at ~3 TB/s that is the
// step's floor beside the GEMM's 2*rows*cols^2 flops. grid = WudiKernels.reductionGrid(n) so the loss
// partials stay deterministic; the grid-stride loop keeps several float4 loads in flight per thread.
// The struct is passed by value as one kernel parameter (7 floats, 28 bytes, no padding).
