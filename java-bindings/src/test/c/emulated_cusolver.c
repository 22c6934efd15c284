/*
 * An emulated cuSOLVER (libcusolver.so.12) over emulated_libcuda.c's host-memory "device memory": the dense
 * symmetric eigensolver the spectral solvers call (cusolverDnDsyevd and its workspace query), computed by cyclic
 * Jacobi rotations in double, eigenvalues ascending and eigenvectors as columns, column-major as in cuSOLVER.
 * A different algorithm from LAPACK's divide and conquer on purpose: the tests compare eigen-decompositions, not
 * bits. For tests of the Java side without a GPU; see emulated_libcuda.c.
 *
 * Build: cc -O2 -shared -fPIC -Wl,-soname,libcusolver.so.12 -o libcusolver.so.12 emulated_cusolver.c -lm
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OK = 0, NOT_INITIALIZED = 1, ALLOC_FAILED = 2, INVALID_VALUE = 3 };

int cusolverGetVersion(int *v) { *v = 11703; return OK; }   /* as a CUDA 12.x cuSOLVER 11.7.3 reports */
int cusolverDnCreate(void **h) { *h = malloc(sizeof(int)); return *h ? OK : ALLOC_FAILED; }
int cusolverDnDestroy(void *h) { free(h); return h ? OK : NOT_INITIALIZED; }
int cusolverDnSetStream(void *h, void *s) { return h ? OK : NOT_INITIALIZED; }

/* work holds the symmetric matrix S (n*n) and V (n*n) */
int cusolverDnDsyevd_bufferSize(void *h, int jobz, int uplo, int n, const double *A, int lda, const double *W, int *lwork) {
    if (!h) return NOT_INITIALIZED;
    if (n < 0 || lda < (n > 1 ? n : 1)) return INVALID_VALUE;
    *lwork = 2 * n * n + 1;
    return OK;
}

/* jobz: 1 = vectors; uplo: 1 = upper (only the upper triangle of the column-major A is read) */
int cusolverDnDsyevd(void *h, int jobz, int uplo, int n, double *A, int lda, double *W, double *work, int lwork, int *info) {
    if (!h) return NOT_INITIALIZED;
    if (jobz != 1 || uplo != 1 || n < 0 || lda < (n > 1 ? n : 1) || lwork < 2 * n * n + 1) return INVALID_VALUE;
    double *S = work, *V = work + (long)n * n;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            S[i + (long)j * n] = i <= j ? A[i + (long)j * lda] : A[j + (long)i * lda];
            V[i + (long)j * n] = i == j ? 1.0 : 0.0;
        }
    double total = 0;
    for (long e = 0; e < (long)n * n; e++) total += S[e] * S[e];
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int q = 0; q < n; q++)
            for (int p = 0; p < q; p++) off += 2 * S[p + (long)q * n] * S[p + (long)q * n];
        if (off <= 1e-30 * total || off == 0) break;
        for (int q = 1; q < n; q++)
            for (int p = 0; p < q; p++) {
                double apq = S[p + (long)q * n];
                if (apq == 0) continue;
                double theta = (S[q + (long)q * n] - S[p + (long)p * n]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) {           /* S = S J (columns p, q), V = V J */
                    double kp = S[k + (long)p * n], kq = S[k + (long)q * n];
                    S[k + (long)p * n] = c * kp - s * kq;
                    S[k + (long)q * n] = s * kp + c * kq;
                    double vp = V[k + (long)p * n], vq = V[k + (long)q * n];
                    V[k + (long)p * n] = c * vp - s * vq;
                    V[k + (long)q * n] = s * vp + c * vq;
                }
                for (int k = 0; k < n; k++) {           /* S = J^T S (rows p, q) */
                    double pk = S[p + (long)k * n], qk = S[q + (long)k * n];
                    S[p + (long)k * n] = c * pk - s * qk;
                    S[q + (long)k * n] = s * pk + c * qk;
                }
            }
    }
    /* ascending eigenvalues: selection sort of the diagonal, columns of V follow */
    int *order = malloc(sizeof(int) * (n > 0 ? n : 1));
    if (!order) return ALLOC_FAILED;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n; i++) {
        int best = i;
        for (int j = i + 1; j < n; j++)
            if (S[order[j] + (long)order[j] * n] < S[order[best] + (long)order[best] * n]) best = j;
        int t = order[i]; order[i] = order[best]; order[best] = t;
    }
    for (int j = 0; j < n; j++) {
        W[j] = S[order[j] + (long)order[j] * n];
        for (int i = 0; i < n; i++) A[i + (long)j * lda] = V[i + (long)order[j] * n];
    }
    free(order);
    *info = 0;   /* a device pointer, which is host memory here */
    return OK;
}
