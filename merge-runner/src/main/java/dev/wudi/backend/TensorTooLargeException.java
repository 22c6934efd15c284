package dev.wudi.backend;

/**
 * Thrown by a backend (the GPU one) when the WUDI problem of one tensor does not fit its memory. It must
 * be thrown before anything of the tensor's result is handed back; the merge then computes that tensor
 * on the CPU backend instead, with the same result within the parity tolerance, and says so.
 */
public final class TensorTooLargeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String tensor;
    private final long bytesNeeded;
    private final long bytesAvailable;

    /**
     * @param bytesNeeded    what the problem needs on the device (-1 when unknown)
     * @param bytesAvailable what the device has free (-1 when unknown)
     */
    public TensorTooLargeException(String backend, String tensor, long bytesNeeded, long bytesAvailable) {
        super(backend + ": tensor " + tensor + " does not fit the device memory (needs "
                + (bytesNeeded < 0 ? "?" : bytesNeeded) + " bytes, " + (bytesAvailable < 0 ? "?" : bytesAvailable)
                + " free)");
        this.tensor = tensor;
        this.bytesNeeded = bytesNeeded;
        this.bytesAvailable = bytesAvailable;
    }

    public String tensor() {
        return tensor;
    }

    public long bytesNeeded() {
        return bytesNeeded;
    }

    public long bytesAvailable() {
        return bytesAvailable;
    }
}
