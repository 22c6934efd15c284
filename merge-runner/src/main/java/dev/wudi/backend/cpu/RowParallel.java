package dev.wudi.backend.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs an element-wise pass over a row-major matrix on a fixed number of threads, one contiguous block
 * of rows per thread (the caller's thread takes the first block). Partial sums are added in block
 * order, so a reduction does not depend on scheduling. One pass at a time: problems of the same backend
 * that solve from several threads take turns.
 */
final class RowParallel implements AutoCloseable {

    /** Block number block (0 .. threads-1) works on elements [from, to) and returns its partial sum. */
    @FunctionalInterface
    interface RangeBody {
        double apply(int block, int from, int to);
    }

    /**
     * Below this many elements per block a hand-off to another thread costs more than the pass itself
     * (about 30 microseconds of work), so small matrices run on the caller's thread alone.
     */
    static final int MIN_ELEMENTS_PER_BLOCK = 1 << 16;

    private final int threads;
    private final ExecutorService pool;
    private final List<Future<Double>> pending = new ArrayList<>();

    RowParallel(int threads) {
        this.threads = Math.max(1, threads);
        this.pool = this.threads == 1 ? null : Executors.newFixedThreadPool(this.threads - 1, r -> {
            Thread th = new Thread(r, "wudi-cpu-rows");
            th.setDaemon(true);
            return th;
        });
    }

    int threads() {
        return threads;
    }

    /** Applies body to [0, rows*cols) split at row boundaries; returns the sum of the partial results. */
    synchronized double run(int rows, int cols, RangeBody body) {
        int blocks = (int) Math.min(Math.min(threads, rows), Math.max(1, (long) rows * cols / MIN_ELEMENTS_PER_BLOCK));
        if (blocks <= 1) {
            return body.apply(0, 0, rows * cols);
        }
        pending.clear();
        for (int b = 1; b < blocks; b++) {
            int block = b;
            int from = (int) ((long) rows * b / blocks) * cols;
            int to = (int) ((long) rows * (b + 1) / blocks) * cols;
            pending.add(pool.submit(() -> body.apply(block, from, to)));
        }
        double total = body.apply(0, 0, (rows / blocks) * cols);
        try {
            for (Future<Double> f : pending) {
                total += f.get();
            }
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during a parallel pass", ex);
        } catch (ExecutionException ex) {
            throw new IllegalStateException("a parallel pass failed: " + ex.getCause(), ex.getCause());
        }
        return total;
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
