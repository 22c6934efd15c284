package dev.wudi.format;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Every way a safetensors file or a sharded-folder index can be malformed. One kind per failure,
 * checked in the order the kinds are declared (specification 4); the message always names the file and,
 * where there is one, the tensor.
 */
public final class SafetensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Failure kinds, in the order the reader checks them. */
    public enum Kind {
        /** A FIFO, device, socket or folder where a file was expected: refused before it is opened. */
        NOT_A_FILE,
        HEADER_TOO_SMALL,
        HEADER_TOO_LARGE,
        HEADER_BEYOND_FILE,
        HEADER_NOT_UTF8,
        HEADER_NOT_JSON,
        BAD_METADATA,
        DUPLICATE_NAME,
        BAD_DTYPE,
        BAD_SHAPE,
        SIZE_OVERFLOW,
        BAD_OFFSETS,
        SIZE_MISMATCH,
        OVERLAPPING_OFFSETS,
        HOLE_IN_DATA,
        DATA_NOT_AT_END,
        TENSOR_NOT_FOUND,
        BAD_INDEX
    }

    private final Kind kind;
    private final Path file;
    private final String tensor;

    public SafetensorsException(Kind kind, Path file, String tensor, String detail) {
        super(format(kind, file, tensor, detail));
        this.kind = kind;
        this.file = file;
        this.tensor = tensor;
    }

    public SafetensorsException(Kind kind, Path file, String detail) {
        this(kind, file, null, detail);
    }

    private static String format(Kind kind, Path file, String tensor, String detail) {
        StringBuilder sb = new StringBuilder();
        sb.append(file);
        if (tensor != null) {
            sb.append(": tensor '").append(tensor).append('\'');
        }
        sb.append(": ").append(detail);
        sb.append(" [").append(kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-')).append(']');
        return sb.toString();
    }

    public Kind kind() {
        return kind;
    }

    public Path file() {
        return file;
    }

    /** The tensor the failure concerns, or null where it concerns the whole file. */
    public String tensor() {
        return tensor;
    }
}
