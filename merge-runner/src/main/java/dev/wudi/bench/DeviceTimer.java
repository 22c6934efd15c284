package dev.wudi.bench;

import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaEvent;
import dev.wudi.cuda.CudaStream;
import java.util.Arrays;

/** Median device time of a piece of stream work, by CUDA events, after warm-up runs (METHOD.md). */
public final class DeviceTimer implements AutoCloseable {

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
        for (int i = 0; i < warmup; i++) {
            work.run();
        }
        stream.synchronize("warming up");
        double[] ms = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            start.record(stream);
            work.run();
            end.record(stream);
            end.synchronize("timing");
            ms[i] = end.millisSince(start);
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
