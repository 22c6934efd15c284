package dev.wudi.cuda;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * JNA direct mapping (Native.register) of {@link CublasHotPath}: static natives bound once per process to the loaded
 * cuBLAS, every argument a primitive, so a call costs about a JNI call rather than an interface proxy's reflection and
 * argument conversion (several microseconds, against a step GEMM of 10-20 microseconds at CLIP's shapes).
 */
final class CublasDirect implements CublasHotPath {

    private static boolean bound;

    private CublasDirect() {
    }

    /** Binds the natives to {@code library} (once per process; later calls return the same binding). */
    static synchronized CublasHotPath bind(NativeLibrary library) {
        if (!bound) {
            Native.register(CublasDirect.class, library);
            bound = true;
        }
        return new CublasDirect();
    }

    private static native int cublasSgemm_v2(long handle, int transa, int transb, int m, int n, int k, long alpha,
                                             long a, int lda, long b, int ldb, long beta, long c, int ldc);

    private static native int cublasSaxpy_v2(long handle, int n, long alpha, long x, int incx, long y, int incy);

    @Override
    public int sgemm(long handle, int transa, int transb, int m, int n, int k, long alpha, long a, int lda, long b,
                     int ldb, long beta, long c, int ldc) {
        return cublasSgemm_v2(handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    @Override
    public int saxpy(long handle, int n, long alpha, long x, int incx, long y, int incy) {
        return cublasSaxpy_v2(handle, n, alpha, x, incx, y, incy);
    }
}
