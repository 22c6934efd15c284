/*
 * An emulated cuBLAS (libcublas.so.13) over emulated_libcuda.c's host-memory "device memory": the
 * calls the engine makes (SGEMM with either operand transposed), column-major as in cuBLAS, products accumulated in double. For tests of the Java
 * side without a GPU; see emulated_libcuda.c.
 *
 * Each product and saxpy is noted in emulated_libcuda.c's call trace (G, X), found through the loaded libcuda.so.1.
 *
 * Build: cc -O2 -ffp-contract=off -shared -fPIC -Wl,-soname,libcublas.so.13 -o libcublas.so.13 emulated_cublas.c -ldl
 */
#include <dlfcn.h>
#include <stdlib.h>

/* wudi_emu_note of the emulated libcuda.so.1 when it is the one loaded (a real driver has none: nothing is noted) */
static void note(char what) {
    static void (*fn)(char);
    static int looked;
    if (!looked) {
        void *cuda = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
        fn = cuda ? (void (*)(char))dlsym(cuda, "wudi_emu_note") : 0;
        looked = 1;
    }
    if (fn) fn(what);
}

int cublasCreate_v2(void **h) { *h = malloc(sizeof(int)); *(int *)*h = 0; return 0; }
int cublasDestroy_v2(void *h) { free(h); return 0; }
int cublasGetVersion_v2(void *h, int *v) { *v = 130000; return 0; }
int cublasSetStream_v2(void *h, void *s) { return 0; }
int cublasSetMathMode(void *h, int mode) { *(int *)h = mode; return mode == 0 || mode == 3 ? 0 : 7; }

int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A, int lda,
                   const float *B, int ldb, const float *beta, float *C, int ldc) {
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1) || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;
    note('G');
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double acc = 0;
            for (int p = 0; p < k; p++) {
                float a = ta ? A[p + (long)i * lda] : A[i + (long)p * lda];   /* op(A)[i, p] */
                float b = tb ? B[j + (long)p * ldb] : B[p + (long)j * ldb];   /* op(B)[p, j] */
                acc += (double)a * b;
            }
            float c = *alpha * (float)acc;
            C[i + (long)j * ldc] = *beta == 0.0f ? c : c + *beta * C[i + (long)j * ldc];
        }
    return 0;
}

int cublasSsyrk_v2(void *h, int uplo, int trans, int n, int k, const float *alpha, const float *A, int lda,
                   const float *beta, float *C, int ldc) {
    if (uplo != 1 || trans != 0 || lda < n || ldc < n) return 7;
    note('G');
    for (int j = 0; j < n; j++)
        for (int i = 0; i <= j; i++) {
            double acc = 0;
            for (int p = 0; p < k; p++) acc += (double)A[i + (long)p * lda] * A[j + (long)p * lda];
            float c = *alpha * (float)acc;
            C[i + (long)j * ldc] = *beta == 0.0f ? c : c + *beta * C[i + (long)j * ldc];
        }
    return 0;
}

int cublasSaxpy_v2(void *h, int n, const float *alpha, const float *x, int incx, float *y, int incy) {
    if (incx != 1 || incy != 1) return 7;
    note('X');
    for (long i = 0; i < n; i++) y[i] += *alpha * x[i];
    return 0;
}
