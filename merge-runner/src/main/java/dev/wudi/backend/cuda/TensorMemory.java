package dev.wudi.backend.cuda;

import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaException;
import dev.wudi.cuda.DeviceBuffer;

/**
 * Device allocations on behalf of one tensor: every buffer's name carries the tensor and its shape, and
 * running out of memory becomes a {@link DeviceMemoryException} (bytes needed vs free) that the caller
 * can catch to merge that tensor on the CPU instead.
 */
final class TensorMemory {

    private final CudaDevice device;
    private final String backendName;
    private final String tensorName;
    private final int rows;
    private final int cols;

    TensorMemory(CudaDevice device, String backendName, String tensorName, int rows, int cols) {
        this.device = device;
        this.backendName = backendName;
        this.tensorName = tensorName;
        this.rows = rows;
        this.cols = cols;
    }

    /** "tensor NAME [rows, cols]", for messages. */
    String label() {
        return "tensor " + tensorName + " [" + rows + ", " + cols + "]";
    }

    DeviceBuffer alloc(long bytes, String what) {
        try {
            return device.allocate(bytes, what + " of " + label());
        } catch (CudaException e) {
            if ("CUDA_ERROR_OUT_OF_MEMORY".equals(e.status())) {
                DeviceMemoryException oom = new DeviceMemoryException(tensorName, rows, cols, bytes, device.freeMemory(),
                        backendName + " (allocating " + what + ")");
                oom.initCause(e);
                throw oom;
            }
            throw e;
        }
    }
}
