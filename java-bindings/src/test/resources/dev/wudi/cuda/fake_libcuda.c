/* A stand-in libcuda.so.1 (soname libcuda.so.1) for FakeDriverProbeTest: just enough driver for JCuda's
 * bindings to load and for CudaProbe to reach cuInit / cuDeviceGetCount. WUDI_FAKE_CUINIT picks what
 * cuInit returns (default 100 = CUDA_ERROR_NO_DEVICE); the device count is always 0. */
#include <stdlib.h>

int cuInit(unsigned int flags) {
    const char *s = getenv("WUDI_FAKE_CUINIT");
    return s ? atoi(s) : 100;
}

int cuDeviceGetCount(int *count) {
    *count = 0;
    return 0;
}

int cuDriverGetVersion(int *version) {
    *version = 13000;
    return 0;
}
