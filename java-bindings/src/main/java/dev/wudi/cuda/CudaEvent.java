package dev.wudi.cuda;

import jcuda.driver.CUevent;

/** A CUDA event: orders work across streams and, when created with timing, measures device time. */
public final class CudaEvent implements AutoCloseable {

    private final CUevent handle = new CUevent();
    private boolean closed;

    CudaEvent(boolean timing) {
        Driver.eventCreate(handle, timing);
    }

    CUevent handle() {
        if (closed) {
            throw new IllegalStateException("event is closed");
        }
        return handle;
    }

    /** Marks the current end of {@code stream}'s work. */
    public void record(CudaStream stream) {
        Driver.eventRecord(handle(), stream.handle());
    }

    /** Blocks the calling thread until the recorded work is done. */
    public void synchronize(String context) {
        Driver.eventSynchronize(handle(), context);
    }

    /** Device milliseconds from {@code start} to this event (both recorded, both created with timing). */
    public float millisSince(CudaEvent start) {
        return Driver.eventElapsedMs(start.handle(), handle());
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Driver.eventDestroy(handle);
        }
    }
}
