/* A stand-in libcublas for CublasFakeLibraryTest: it checks the arguments the Java side passes (the
 * row-major to column-major mapping, JNA's marshalling of scalars and device addresses) and answers with a
 * status the test expects. It never touches memory behind the pointers. */
#include <stddef.h>

int cublasCreate_v2(void **handle) { *handle = (void *)0x1234; return 0; }
int cublasDestroy_v2(void *handle) { return handle == (void *)0x1234 ? 0 : 7; }
int cublasGetVersion_v2(void *handle, int *version) { *version = 130001; return 0; }
int cublasSetStream_v2(void *handle, void *stream) { return stream == (void *)0xabc ? 0 : 7; }
int cublasSetMathMode(void *handle, int mode) { return mode == 0 || mode == 3 ? 0 : 7; }

/* rows = 5, cols = 3: expects m = cols, n = rows, k = cols, A = s (0x100), B = a (0x200), C = out (0x300). */
int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const void *A, int lda,
                   const void *B, int ldb, const float *beta, void *C, int ldc) {
    int ok = h == (void *)0x1234 && ta == 0 && tb == 0 && m == 3 && n == 5 && k == 3 && *alpha == 2.0f
             && *beta == 0.5f && A == (void *)0x100 && lda == 3 && B == (void *)0x200 && ldb == 3
             && C == (void *)0x300 && ldc == 3;
    return ok ? 0 : 13; /* CUBLAS_STATUS_EXECUTION_FAILED */
}

/* rows = 5, cols = 3: expects UPPER, N, n = cols, k = rows, A = tau (0x200), C = g (0x400), alpha 1, beta 0. */
int cublasSsyrk_v2(void *h, int uplo, int trans, int n, int k, const float *alpha, const void *A, int lda,
                   const float *beta, void *C, int ldc) {
    int ok = uplo == 1 && trans == 0 && n == 3 && k == 5 && *alpha == 1.0f && *beta == 0.0f
             && A == (void *)0x200 && lda == 3 && C == (void *)0x400 && ldc == 3;
    return ok ? 0 : 14; /* CUBLAS_STATUS_INTERNAL_ERROR */
}

int cublasSaxpy_v2(void *h, int n, const float *alpha, const void *x, int incx, void *y, int incy) {
    return 16; /* CUBLAS_STATUS_LICENSE_ERROR: a status name the test looks for */
}
