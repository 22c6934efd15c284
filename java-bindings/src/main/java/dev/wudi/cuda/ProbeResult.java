package dev.wudi.cuda;

/**
 * What {@link CudaProbe} found. {@code available} means a device, the kernels' fatbin and cuBLAS are all
 * there; otherwise {@code reason} is ONE line: the cause, "running on CPU", and the fix, e.g.
 * "no libcuda.so.1 found; running on CPU. Install the NVIDIA driver or pass --device cpu".
 *
 * @param available     the GPU engine can run here
 * @param deviceCount   CUDA devices the driver reports (0 when the driver is missing)
 * @param reason        "ok", or the one line to print when falling back to the CPU
 * @param driverFound   libcuda.so.1 could be loaded
 * @param fatbinPresent this jar holds the kernels
 * @param fatbinStatus  how the build made (or skipped) the kernels
 * @param cublasFound   libcublas.so.13 or .so.12 was found
 * @param cublas        where it was found, or why not
 */
public record ProbeResult(boolean available, int deviceCount, String reason, boolean driverFound,
                          boolean fatbinPresent, String fatbinStatus, boolean cublasFound, String cublas) {

    /** One line for logs: the devices and libraries found, or the reason. */
    public String summary() {
        return available ? deviceCount + " CUDA device(s); kernels " + fatbinStatus + "; cuBLAS " + cublas : reason;
    }
}
