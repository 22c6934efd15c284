package dev.wudi.cuda.reference;

/** Host reference of cuda-kernels/symmetrize.cu: g (n, n) column-major, g[i + j n] = g[j + i n] for i > j. */
public final class SymmetrizeReference {

    private SymmetrizeReference() {
    }

    public static void fromUpper(float[] g, int n) {
        for (int j = 0; j < n; j++) {
            for (int i = j + 1; i < n; i++) {
                g[i + j * n] = g[j + i * n];
            }
        }
    }
}
