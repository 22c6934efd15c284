package dev.wudi.checkpoint;

/**
 * A checkpoint problem that is the command line's mistake rather than the files' (an input path that does not exist,
 * an output that exists without --force or lies inside an input, an output named like a file for a folder): the CLI
 * exits 2 for it, as for any usage error; a library caller catches it as a {@link CheckpointException}.
 */
public class UsageMistakeException extends CheckpointException {

    private static final long serialVersionUID = 1L;

    public UsageMistakeException(String message) {
        super(message);
    }
}
