package dev.wudi.cuda;

/** cusolverStatus_t names, for error messages. */
final class CusolverStatus {

    private CusolverStatus() {
    }

    static String name(int status) {
        switch (status) {
            case 0: return "CUSOLVER_STATUS_SUCCESS";
            case 1: return "CUSOLVER_STATUS_NOT_INITIALIZED";
            case 2: return "CUSOLVER_STATUS_ALLOC_FAILED";
            case 3: return "CUSOLVER_STATUS_INVALID_VALUE";
            case 4: return "CUSOLVER_STATUS_ARCH_MISMATCH";
            case 5: return "CUSOLVER_STATUS_MAPPING_ERROR";
            case 6: return "CUSOLVER_STATUS_EXECUTION_FAILED";
            case 7: return "CUSOLVER_STATUS_INTERNAL_ERROR";
            case 8: return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
            case 9: return "CUSOLVER_STATUS_NOT_SUPPORTED";
            default: return "cusolverStatus_t " + status;
        }
    }

    static void check(int status, String call, String context) {
        if (status != 0) {
            throw new CudaException(call, name(status), context);
        }
    }
}
