package dev.wudi.cuda;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The raw cuBLAS v2 functions the engine calls, bound by JNA to whichever libcublas.so.13/.12
 * {@link CublasLocator} found. Every function returns a cublasStatus_t (0 = success). Scalars are host
 * pointers (CUBLAS_POINTER_MODE_HOST, the default): a one-element float[]. Matrices are device addresses
 * wrapped in JNA Pointers. cuBLAS is column-major; {@link Cublas} documents the row-major mapping per call.
 * Package-private: only {@link Cublas} calls these.
 */
interface CublasNative extends Library {

    int CUBLAS_OP_N = 0;
    int CUBLAS_OP_T = 1;
    int CUBLAS_FILL_MODE_LOWER = 0;
    int CUBLAS_FILL_MODE_UPPER = 1;
    int CUBLAS_DEFAULT_MATH = 0;
    int CUBLAS_TF32_TENSOR_OP_MATH = 3;

    int cublasCreate_v2(PointerByReference handle);

    int cublasDestroy_v2(Pointer handle);

    int cublasGetVersion_v2(Pointer handle, IntByReference version);

    int cublasSetStream_v2(Pointer handle, Pointer stream);

    int cublasSetMathMode(Pointer handle, int mode);

    int cublasSgemm_v2(Pointer handle, int transa, int transb, int m, int n, int k, float[] alpha,
                       Pointer a, int lda, Pointer b, int ldb, float[] beta, Pointer c, int ldc);

    int cublasSsyrk_v2(Pointer handle, int uplo, int trans, int n, int k, float[] alpha,
                       Pointer a, int lda, float[] beta, Pointer c, int ldc);

    int cublasSaxpy_v2(Pointer handle, int n, float[] alpha, Pointer x, int incx, Pointer y, int incy);

    static CublasNative load(String library) {
        return Native.load(library, CublasNative.class);
    }
}
