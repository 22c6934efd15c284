package dev.wudi.backend.cuda;

import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.cuda.WudiKernels;
import dev.wudi.format.DType;

/**
 * The merged weight W = W_0 + tau_m formed where tau_m lies and encoded in the output dtype
 * ({@link dev.wudi.backend.WudiProblem#mergeOnDevice}), with the same bits as the host path
 * ({@code w0[j] + tauM[j]} in float32, then {@code Floats.encode}):
 * <pre>
 *   f32  = widen(W_0)           exact (bf16/f16 -> f32 kernels, or a copy)
 *   f32 += 1 * tau_m            cuBLAS saxpy with alpha 1: alpha*x is exact, so one rounded float32 add
 *   out  = encode(f32)          f32 -> bf16/f16 kernels, round to nearest even, NaN kept NaN; F32: f32 itself
 * </pre>
 */
final class DeviceMerge {

    /** W_0 as uploaded by setBase (its checkpoint dtype) and the dtype the output is written in. */
    record Request(DeviceBuffer base, DType baseType, DType out) {

        long outBytes(long n) {
            return n * out.bytes();
        }
    }

    private DeviceMerge() {
    }

    /**
     * Queues the merge on {@code stream} (cuBLAS's stream). {@code f32} holds n floats of scratch and
     * {@code half} 2n bytes (unused for an F32 output). Returns the buffer whose first
     * {@code request.outBytes(n)} bytes are the encoded weight once the stream gets there.
     */
    static DeviceBuffer enqueue(WudiKernels kernels, Cublas cublas, Request request, DeviceBuffer tau, DeviceBuffer f32,
                                DeviceBuffer half, long n, CudaStream stream, String what) {
        switch (request.baseType()) {
            case F32: f32.copyFromAsync(request.base(), 4 * n, stream); break;
            case BF16: kernels.bf16ToF32(request.base(), f32, n, stream); break;
            case F16: kernels.f16ToF32(request.base(), f32, n, stream); break;
            default: throw new AssertionError(request.baseType());
        }
        cublas.axpy(n, 1f, tau, f32, "forming W_0 + tau_m of " + what);   // W = W_0 + tau_m (specification 2)
        switch (request.out()) {
            case F32: return f32;
            case BF16: kernels.f32ToBf16(f32, half, n, stream); return half;
            case F16: kernels.f32ToF16(f32, half, n, stream); return half;
            default: throw new AssertionError(request.out());
        }
    }
}
