package dev.wudi.checkpoint;

/**
 * A user-facing problem with a checkpoint or a set of checkpoints (missing file, mismatched tensors).
 * The message is one line naming the file and the tensor.
 */
public class CheckpointException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }
}
