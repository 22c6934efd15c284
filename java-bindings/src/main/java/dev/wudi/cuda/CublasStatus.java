package dev.wudi.cuda;

/** cublasStatus_t names, for error messages. */
final class CublasStatus {

    private CublasStatus() {
    }

    static String name(int status) {
        switch (status) {
            case 0: return "CUBLAS_STATUS_SUCCESS";
            case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
            case 7: return "CUBLAS_STATUS_INVALID_VALUE";
            case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
            case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
            default: return "cublasStatus_t " + status;
        }
    }

    static void check(int status, String call, String context) {
        if (status != 0) {
            throw new CudaException(call, name(status), context);
        }
    }
}
