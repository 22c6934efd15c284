package dev.wudi.cuda;

/**
 * A CUDA driver or cuBLAS call that returned an error. The message names the call, its status and what the
 * engine was doing: "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY while allocating D for tensor X".
 */
public class CudaException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String call;
    private final String status;

    public CudaException(String call, String status, String context) {
        super(call + " failed: " + status + (context == null || context.isEmpty() ? "" : " while " + context));
        this.call = call;
        this.status = status;
    }

    /** The native function that failed, e.g. "cuMemAlloc". */
    public String call() {
        return call;
    }

    /** Its status name, e.g. "CUDA_ERROR_OUT_OF_MEMORY" or "CUBLAS_STATUS_EXECUTION_FAILED". */
    public String status() {
        return status;
    }
}
