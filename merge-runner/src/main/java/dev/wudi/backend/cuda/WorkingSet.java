package dev.wudi.backend.cuda;

/**
 * Device bytes one [rows, cols] WUDI problem holds at its peak (n = rows * cols, c = cols, float32):
 * <pre>
 *   while task vectors are added:  sum, D, two upload slots (n each)  + C, G (c*c each)  = 4n + 2c^2
 *   while Adam runs:               sum, D, tau_m, m, v, P (n each)    + C (c*c)          = 6n +  c^2
 * </pre>
 * (the upload slots and G are freed before the solve), plus small reduction buffers and headroom for
 * cuBLAS's workspace. W_0 in its checkpoint dtype (at most n more) stays through the solve when the merged
 * weight is formed on the device (WudiProblem.mergeOnDevice); the headroom covers it for small tensors only.
 */
public final class WorkingSet {

    /** Left free for cuBLAS workspaces and the driver. */
    public static final long HEADROOM_BYTES = 256L << 20;

    private WorkingSet() {
    }

    public static long setupBytes(int rows, int cols) {
        long n = (long) rows * cols;
        long cc = (long) cols * cols;
        return 4 * (4 * n + 2 * cc);
    }

    public static long solveBytes(int rows, int cols) {
        long n = (long) rows * cols;
        long cc = (long) cols * cols;
        return 4 * (6 * n + cc);
    }

    /** The peak, plus headroom: what must be free before a problem is started. */
    public static long peakBytes(int rows, int cols) {
        return Math.max(setupBytes(rows, cols), solveBytes(rows, cols)) + HEADROOM_BYTES;
    }
}
