package dev.wudi.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * JCuda keeps native addresses in a protected field; cuBLAS (bound through JNA) needs them as numbers.
 * These subclasses read the field and nothing else.
 */
final class RawHandles {

    private RawHandles() {
    }

    static final class DevicePtr extends CUdeviceptr {
        long address() {
            return getNativePointer();
        }
    }

    static final class Stream extends CUstream {
        long address() {
            return getNativePointer();
        }
    }
}
