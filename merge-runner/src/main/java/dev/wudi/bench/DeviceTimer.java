package dev.wudi.bench;

import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaEvent;
import dev.wudi.cuda.CudaStream;
import java.util.Arrays;

/**
 * Device time of a piece of stream work, by CUDA events, after warm-up runs (METHOD.md). {@link #msPerLaunch} puts
 * the two events around a batch of launches, enough to last about a millisecond, and divides: a microsecond kernel
 * timed alone would measure the host's launch gap as much as the kernel.
 */
public final class DeviceTimer implements AutoCloseable {

    /** A timed batch lasts at least this long on the device (ms), when the work is short. */
    static final double BATCH_MS = 1.0;
    /** and holds at most this many launches. */
    static final int MAX_BATCH = 1000;

    private final CudaStream stream;
    private final CudaEvent start;
    private final CudaEvent end;

    public DeviceTimer(CudaDevice device, CudaStream stream) {
        this.stream = stream;
        this.start = device.newEvent(true);
        this.end = device.newEvent(true);
    }

    /** Median milliseconds of {@code work} over {@code repeats} timed runs after {@code warmup} untimed ones. */
    public double medianMs(int warmup, int repeats, Runnable work) {
        return perLaunch(warmup, repeats, 1, work);
    }

    /**
     * Median device milliseconds per run of {@code work}, each sample a batch of runs between two events (as many as
     * last {@link #BATCH_MS}, at most {@link #MAX_BATCH}), after {@code warmup} untimed runs.
     */
    public double msPerLaunch(int warmup, int repeats, Runnable work) {
        for (int i = 0; i < warmup; i++) {
            work.run();
        }
        double one = perLaunch(0, 1, 1, work);
        int batch = (int) Math.max(1, Math.min(MAX_BATCH, Math.ceil(BATCH_MS / Math.max(one, 1e-6))));
        return perLaunch(0, repeats, batch, work);
    }

    private double perLaunch(int warmup, int repeats, int batch, Runnable work) {
        for (int i = 0; i < warmup; i++) {
            work.run();
        }
        stream.synchronize("warming up");
        double[] ms = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            start.record(stream);
            for (int b = 0; b < batch; b++) {
                work.run();
            }
            end.record(stream);
            end.synchronize("timing");
            ms[i] = end.millisSince(start) / batch;
        }
        Arrays.sort(ms);
        return ms[repeats / 2];
    }

    @Override
    public void close() {
        start.close();
        end.close();
    }
}
