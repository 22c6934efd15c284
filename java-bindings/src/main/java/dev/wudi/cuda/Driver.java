package dev.wudi.cuda;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * Every raw CUDA driver call of the engine, each checked: a non-zero status becomes a {@link CudaException}
 * naming the call, the status and the context. Package-private: the rest of the code sees the typed facade
 * ({@link CudaDevice}, {@link DeviceBuffer}, {@link PinnedBuffer}, {@link CudaStream}, {@link WudiKernels}).
 * Nothing here may run before {@link CudaProbe} has seen libcuda.so.1, because loading JCuda's natives
 * without a driver throws an UnsatisfiedLinkError.
 */
final class Driver {

    private Driver() {
    }

    static void check(int status, String call, String context) {
        if (status != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, CUresult.stringFor(status), context);
        }
    }

    static void init() {
        check(JCudaDriver.cuInit(0), "cuInit", "initialising the CUDA driver");
    }

    static int deviceCount() {
        int[] n = new int[1];
        check(JCudaDriver.cuDeviceGetCount(n), "cuDeviceGetCount", "counting CUDA devices");
        return n[0];
    }

    static int driverVersion() {
        int[] v = new int[1];
        check(JCudaDriver.cuDriverGetVersion(v), "cuDriverGetVersion", "reading the driver version");
        return v[0];
    }

    static CUdevice device(int ordinal) {
        CUdevice d = new CUdevice();
        check(JCudaDriver.cuDeviceGet(d, ordinal), "cuDeviceGet", "opening device " + ordinal);
        return d;
    }

    static String deviceName(CUdevice d) {
        byte[] name = new byte[256];
        check(JCudaDriver.cuDeviceGetName(name, name.length, d), "cuDeviceGetName", "reading the device name");
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        return new String(name, 0, len, java.nio.charset.StandardCharsets.US_ASCII);
    }

    static int attribute(CUdevice d, int attribute, String what) {
        int[] v = new int[1];
        check(JCudaDriver.cuDeviceGetAttribute(v, attribute, d), "cuDeviceGetAttribute", "reading " + what);
        return v[0];
    }

    static long totalMemory(CUdevice d) {
        long[] v = new long[1];
        check(JCudaDriver.cuDeviceTotalMem(v, d), "cuDeviceTotalMem", "reading the device memory size");
        return v[0];
    }

    /** The device's primary context (shared with any other CUDA user in the process), made current. */
    static CUcontext retainPrimaryContext(CUdevice d, int ordinal) {
        CUcontext ctx = new CUcontext();
        check(JCudaDriver.cuDevicePrimaryCtxRetain(ctx, d), "cuDevicePrimaryCtxRetain", "opening device " + ordinal);
        setCurrent(ctx);
        return ctx;
    }

    static void releasePrimaryContext(CUdevice d) {
        check(JCudaDriver.cuDevicePrimaryCtxRelease(d), "cuDevicePrimaryCtxRelease", "closing the device");
    }

    static void setCurrent(CUcontext ctx) {
        check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent", "making the device current on this thread");
    }

    static void synchronizeContext() {
        check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize", "waiting for the device");
    }

    /** {free, total} bytes of the current context's device. */
    static long[] memoryInfo() {
        long[] free = new long[1];
        long[] total = new long[1];
        check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo", "reading free device memory");
        return new long[] {free[0], total[0]};
    }

    static void memAlloc(CUdeviceptr ptr, long bytes, String context) {
        check(JCudaDriver.cuMemAlloc(ptr, bytes), "cuMemAlloc", context);
    }

    static void memFree(CUdeviceptr ptr, String context) {
        check(JCudaDriver.cuMemFree(ptr), "cuMemFree", context);
    }

    static void memHostAlloc(Pointer ptr, long bytes, String context) {
        // 0 = CU_MEMHOSTALLOC default: page-locked, usable by async copies on any stream of the context.
        check(JCudaDriver.cuMemHostAlloc(ptr, bytes, 0), "cuMemHostAlloc", context);
    }

    static void memFreeHost(Pointer ptr, String context) {
        check(JCudaDriver.cuMemFreeHost(ptr), "cuMemFreeHost", context);
    }

    static void copyHtoDAsync(CUdeviceptr dst, Pointer src, long bytes, CUstream s, String context) {
        check(JCudaDriver.cuMemcpyHtoDAsync(dst, src, bytes, s), "cuMemcpyHtoDAsync", context);
    }

    static void copyDtoHAsync(Pointer dst, CUdeviceptr src, long bytes, CUstream s, String context) {
        check(JCudaDriver.cuMemcpyDtoHAsync(dst, src, bytes, s), "cuMemcpyDtoHAsync", context);
    }

    static void copyHtoD(CUdeviceptr dst, Pointer src, long bytes, String context) {
        check(JCudaDriver.cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD", context);
    }

    static void copyDtoH(Pointer dst, CUdeviceptr src, long bytes, String context) {
        check(JCudaDriver.cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH", context);
    }

    static void copyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, long bytes, CUstream s, String context) {
        check(JCudaDriver.cuMemcpyDtoDAsync(dst, src, bytes, s), "cuMemcpyDtoDAsync", context);
    }

    static void memsetD8Async(CUdeviceptr dst, byte value, long bytes, CUstream s, String context) {
        check(JCudaDriver.cuMemsetD8Async(dst, value, bytes, s), "cuMemsetD8Async", context);
    }

    static void streamCreate(CUstream s) {
        // CU_STREAM_NON_BLOCKING (1): no implicit synchronisation with the legacy default stream.
        check(JCudaDriver.cuStreamCreate(s, 1), "cuStreamCreate", "creating a stream");
    }

    static void streamDestroy(CUstream s) {
        check(JCudaDriver.cuStreamDestroy(s), "cuStreamDestroy", "destroying a stream");
    }

    static void streamSynchronize(CUstream s, String context) {
        check(JCudaDriver.cuStreamSynchronize(s), "cuStreamSynchronize", context);
    }

    static void streamWaitEvent(CUstream s, CUevent e) {
        check(JCudaDriver.cuStreamWaitEvent(s, e, 0), "cuStreamWaitEvent", "ordering two streams");
    }

    static void eventCreate(CUevent e, boolean timing) {
        // CU_EVENT_DISABLE_TIMING (2) makes pure ordering events cheaper.
        check(JCudaDriver.cuEventCreate(e, timing ? 0 : 2), "cuEventCreate", "creating an event");
    }

    static void eventDestroy(CUevent e) {
        check(JCudaDriver.cuEventDestroy(e), "cuEventDestroy", "destroying an event");
    }

    static void eventRecord(CUevent e, CUstream s) {
        check(JCudaDriver.cuEventRecord(e, s), "cuEventRecord", "recording an event");
    }

    static void eventSynchronize(CUevent e, String context) {
        check(JCudaDriver.cuEventSynchronize(e), "cuEventSynchronize", context);
    }

    static float eventElapsedMs(CUevent start, CUevent end) {
        float[] ms = new float[1];
        check(JCudaDriver.cuEventElapsedTime(ms, start, end), "cuEventElapsedTime", "timing on the device");
        return ms[0];
    }

    static CUmodule moduleLoadData(byte[] image, String context) {
        CUmodule m = new CUmodule();
        check(JCudaDriver.cuModuleLoadData(m, image), "cuModuleLoadData", context);
        return m;
    }

    static void moduleUnload(CUmodule m) {
        check(JCudaDriver.cuModuleUnload(m), "cuModuleUnload", "unloading the kernels");
    }

    static CUfunction function(CUmodule m, String name) {
        CUfunction f = new CUfunction();
        check(JCudaDriver.cuModuleGetFunction(f, m, name), "cuModuleGetFunction",
                "looking up kernel " + name + " (is the fatbin older than this jar's launchers?)");
        return f;
    }

    static void launch(CUfunction f, String name, int grid, int block, CUstream s, Pointer params) {
        check(JCudaDriver.cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, s, params, null),
                "cuLaunchKernel", "launching " + name + " with grid " + grid + " x block " + block);
    }
}
