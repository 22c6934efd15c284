package dev.wudi.backend.cuda;

import dev.wudi.backend.DeviceMemoryException;
import dev.wudi.cuda.CudaException;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;

/**
 * Device memory on behalf of one tensor, lent by the backend's {@link DevicePool}: every buffer's name carries the
 * tensor and its shape, closing a buffer gives it back to the pool, and running out of memory becomes a
 * {@link DeviceMemoryException} (bytes needed vs free) that the caller can catch to merge that tensor on the CPU instead.
 */
final class TensorMemory {

    private final CudaBackend backend;
    private final String tensorName;
    private final int rows;
    private final int cols;

    TensorMemory(CudaBackend backend, String tensorName, int rows, int cols) {
        this.backend = backend;
        this.tensorName = tensorName;
        this.rows = rows;
        this.cols = cols;
    }

    /** "tensor NAME [rows, cols]", for messages. */
    String label() {
        return "tensor " + tensorName + " [" + rows + ", " + cols + "]";
    }

    /** A buffer first used on the compute stream. */
    DeviceBuffer alloc(long bytes, String what) {
        return alloc(bytes, what, backend.computeStream());
    }

    /** A buffer whose first use is on {@code stream} (the pool orders it after its last holder's work there). */
    DeviceBuffer alloc(long bytes, String what, CudaStream stream) {
        try {
            return backend.pool().take(bytes, what + " of " + label(), stream);
        } catch (CudaException e) {
            if ("CUDA_ERROR_OUT_OF_MEMORY".equals(e.status())) {
                DeviceMemoryException oom = new DeviceMemoryException(tensorName, rows, cols, bytes, backend.freeMemory(),
                        backend.name() + " (allocating " + what + ")");
                oom.initCause(e);
                throw oom;
            }
            throw e;
        }
    }
}
