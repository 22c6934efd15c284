package dev.wudi.backend;

/**
 * A backend failed on one tensor (a CUDA or cuBLAS error, a native library that would not load). The
 * message names the backend, the call and the tensor; the merge turns it into one line for the user and
 * removes its temporary output, so a failing device never leaves a half-written checkpoint.
 */
public final class BackendException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final String tensor;

    /** @param tensor null when the failure concerns no tensor (loading the library, creating a context) */
    public BackendException(String backend, String call, String tensor, String detail, Throwable cause) {
        super(backend + ": " + call + " failed" + (tensor == null ? "" : " on tensor " + tensor) + ": " + detail,
                cause);
        this.call = call;
        this.tensor = tensor;
    }

    public String call() {
        return call;
    }

    public String tensor() {
        return tensor;
    }
}
