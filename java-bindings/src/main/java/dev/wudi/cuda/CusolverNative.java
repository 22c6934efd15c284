package dev.wudi.cuda;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The raw cuSOLVER dense functions the engine calls, bound by JNA to whichever libcusolver.so.12/.11
 * {@link CusolverLocator} found. Every function returns a cusolverStatus_t (0 = success). Matrices are device
 * addresses wrapped in JNA Pointers, column-major. Package-private: only {@link Cusolver} calls these.
 */
interface CusolverNative extends Library {

    int CUSOLVER_EIG_MODE_NOVECTOR = 0;
    int CUSOLVER_EIG_MODE_VECTOR = 1;
    int CUBLAS_FILL_MODE_LOWER = 0;
    int CUBLAS_FILL_MODE_UPPER = 1;

    /** cuSOLVER's version as major * 1000 + minor * 100 + patch. */
    int cusolverGetVersion(IntByReference version);

    int cusolverDnCreate(PointerByReference handle);

    int cusolverDnDestroy(Pointer handle);

    int cusolverDnSetStream(Pointer handle, Pointer stream);

    /** Workspace (in doubles) of {@link #cusolverDnDsyevd}. */
    int cusolverDnDsyevd_bufferSize(Pointer handle, int jobz, int uplo, int n, Pointer a, int lda, Pointer w,
                                    IntByReference lwork);

    /** Symmetric eigendecomposition, divide and conquer: eigenvalues ascending in w, vectors over a. */
    int cusolverDnDsyevd(Pointer handle, int jobz, int uplo, int n, Pointer a, int lda, Pointer w, Pointer work,
                         int lwork, Pointer devInfo);

    static CusolverNative load(String library) {
        return Native.load(library, CusolverNative.class);
    }
}
