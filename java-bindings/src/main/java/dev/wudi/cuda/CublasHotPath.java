package dev.wudi.cuda;

import com.sun.jna.Pointer;

/**
 * The cuBLAS calls of the Adam step loop (the step's SGEMM, and saxpy) on raw numbers: the handle and every matrix as
 * an address, the scalars alpha and beta as addresses of host memory (CUBLAS_POINTER_MODE_HOST: read before the call
 * returns). Bound by JNA's direct mapping ({@link CublasDirect}), which calls the function with no proxy and no argument
 * conversion; {@link #of(CublasNative)} goes through the interface mapping instead (the fallback, and the fake
 * library's tests).
 */
interface CublasHotPath {

    int sgemm(long handle, int transa, int transb, int m, int n, int k, long alpha, long a, int lda, long b, int ldb,
              long beta, long c, int ldc);

    int saxpy(long handle, int n, long alpha, long x, int incx, long y, int incy);

    /** The same calls through {@code l}'s interface mapping. */
    static CublasHotPath of(CublasNative l) {
        return new CublasHotPath() {
            @Override
            public int sgemm(long handle, int transa, int transb, int m, int n, int k, long alpha, long a, int lda,
                             long b, int ldb, long beta, long c, int ldc) {
                return l.cublasSgemm_v2(new Pointer(handle), transa, transb, m, n, k,
                        new float[] {new Pointer(alpha).getFloat(0)}, new Pointer(a), lda, new Pointer(b), ldb,
                        new float[] {new Pointer(beta).getFloat(0)}, new Pointer(c), ldc);
            }

            @Override
            public int saxpy(long handle, int n, long alpha, long x, int incx, long y, int incy) {
                return l.cublasSaxpy_v2(new Pointer(handle), n, new float[] {new Pointer(alpha).getFloat(0)},
                        new Pointer(x), incx, new Pointer(y), incy);
            }
        };
    }
}
