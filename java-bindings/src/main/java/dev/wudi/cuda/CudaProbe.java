package dev.wudi.cuda;

import com.sun.jna.NativeLibrary;

/**
 * Finds out, without failing, whether the CUDA engine can run here, and if not, says why in one line with
 * the fix. Order matters: libcuda.so.1 is looked for with JNA first, because touching any JCuda class
 * without a driver throws UnsatisfiedLinkError from its static initialiser; only then JCuda is asked for
 * devices. It also reports whether this jar holds the kernels' fatbin and where cuBLAS is.
 */
public final class CudaProbe {

    /** The driver library every CUDA program loads. */
    public static final String DRIVER_LIBRARY = "libcuda.so.1";

    private static ProbeResult cached;

    private CudaProbe() {
    }

    /** The probe of this process, computed once. */
    public static synchronized ProbeResult probe() {
        if (cached == null) {
            cached = probe(DRIVER_LIBRARY, CublasLocator.system());
        }
        return cached;
    }

    /** A fresh probe with a given driver library name and cuBLAS locator (tests use fakes). */
    public static ProbeResult probe(String driverLibrary, CublasLocator cublasLocator) {
        boolean fatbin = FatbinResource.present();
        String fatbinStatus = FatbinResource.buildStatus();

        boolean cublasFound;
        String cublas;
        String cublasProblem = null;
        try {
            CublasLocator.Location where = cublasLocator.locate();
            cublasFound = where.isFile() || loadable(where.library());
            cublas = where.library() + " (" + where.how() + ")";
            if (!cublasFound) {
                cublasProblem = "no " + String.join(" or ", CublasLocator.NAMES) + " found";
            }
        } catch (IllegalStateException e) {
            cublasFound = false;
            cublas = e.getMessage();
            cublasProblem = e.getMessage();
        }

        if (!loadable(driverLibrary)) {
            return new ProbeResult(false, 0, "no " + driverLibrary + " found; running on CPU. Install the NVIDIA driver or pass --device cpu",
                    false, fatbin, fatbinStatus, cublasFound, cublas);
        }
        int devices;
        try {
            devices = JCudaDevices.count();
        } catch (CudaException e) {
            return new ProbeResult(false, 0, e.getMessage() + "; running on CPU. Check the driver with nvidia-smi or pass --device cpu",
                    true, fatbin, fatbinStatus, cublasFound, cublas);
        } catch (LinkageError e) {
            return new ProbeResult(false, 0, "JCuda's driver bindings failed to load (" + e + "); running on CPU. "
                    + "Check that the NVIDIA driver supports CUDA 12 or newer, or pass --device cpu",
                    true, fatbin, fatbinStatus, cublasFound, cublas);
        }
        if (devices == 0) {
            return new ProbeResult(false, 0, "the NVIDIA driver reports no CUDA device; running on CPU. Check nvidia-smi "
                    + "and CUDA_VISIBLE_DEVICES, or pass --device cpu", true, fatbin, fatbinStatus, cublasFound, cublas);
        }
        if (!fatbin) {
            return new ProbeResult(false, devices, "this jar has no CUDA kernels (its build " + fatbinStatus + "); running on CPU. "
                    + "Rebuild with nvcc and cmake on the PATH, or pass --device cpu", true, false, fatbinStatus, cublasFound, cublas);
        }
        if (!cublasFound) {
            return new ProbeResult(false, devices, cublasProblem + "; running on CPU. Install cuBLAS (CUDA toolkit or "
                    + "pip install nvidia-cublas) or set " + CublasLocator.ENV + "=/path/to/libcublas.so.13, or pass --device cpu",
                    true, true, fatbinStatus, false, cublas);
        }
        return new ProbeResult(true, devices, "ok", true, true, fatbinStatus, true, cublas);
    }

    private static boolean loadable(String library) {
        try {
            NativeLibrary.getInstance(library);
            return true;
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }

    /** The first class that touches JCuda; loaded only after libcuda.so.1 was found. */
    private static final class JCudaDevices {
        static int count() {
            return CudaDevice.count();
        }
    }
}
