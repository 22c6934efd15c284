package dev.wudi.cuda;

import jcuda.driver.CUstream;

/** A non-blocking CUDA stream: work on it runs in order, and concurrently with other streams. */
public final class CudaStream implements AutoCloseable {

    private final RawHandles.Stream handle = new RawHandles.Stream();
    private boolean closed;

    CudaStream() {
        Driver.streamCreate(handle);
    }

    CUstream handle() {
        if (closed) {
            throw new IllegalStateException("stream is closed");
        }
        return handle;
    }

    /** The native cudaStream_t, for cuBLAS. */
    public long address() {
        handle();
        return handle.address();
    }

    /** Makes later work on this stream wait until {@code event} has completed on its stream. */
    public void waitFor(CudaEvent event) {
        Driver.streamWaitEvent(handle(), event.handle());
    }

    /** Blocks the calling thread until all work on the stream is done. */
    public void synchronize(String context) {
        Driver.streamSynchronize(handle(), context);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Driver.streamDestroy(handle);
        }
    }
}
