package dev.wudi.method;

/**
 * Row-major transposition in cache-sized tiles: a Conv1D weight stored [in, out] is the paper's [out, in]
 * transposed (specification 2), so its task vectors are turned before the optimisation and its merged weight turned back.
 * A transposition moves values without arithmetic, so the result equals optimising the transposed checkpoint
 * bit for bit.
 */
public final class Transpose {

    /** 32 x 32 floats = 4 KB per tile of source and destination: both stay in L1. */
    private static final int TILE = 32;

    private Transpose() {
    }

    /** dst[j * rows + i] = src[i * cols + j]: dst is the [cols, rows] transpose of the [rows, cols] src. */
    public static void of(float[] src, int rows, int cols, float[] dst) {
        if (src == dst || src.length < (long) rows * cols || dst.length < (long) rows * cols) {
            throw new IllegalArgumentException("transpose of [" + rows + ", " + cols + "] needs two distinct arrays of "
                    + ((long) rows * cols) + " values");
        }
        for (int i0 = 0; i0 < rows; i0 += TILE) {
            int i1 = Math.min(rows, i0 + TILE);
            for (int j0 = 0; j0 < cols; j0 += TILE) {
                int j1 = Math.min(cols, j0 + TILE);
                for (int i = i0; i < i1; i++) {
                    int row = i * cols;
                    for (int j = j0; j < j1; j++) {
                        dst[j * rows + i] = src[row + j];
                    }
                }
            }
        }
    }
}
