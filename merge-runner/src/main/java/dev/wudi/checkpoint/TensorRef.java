package dev.wudi.checkpoint;

import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;

/** Where one tensor of a checkpoint lives: the (possibly shard) file and its header entry. */
public record TensorRef(SafetensorsFile file, TensorInfo info) {

    public Path path() {
        return file.path();
    }

    public String name() {
        return info.name();
    }

    /** Reads elements [first, first+count) widened to float32. */
    public void readFloats(long first, float[] dst, int dstOff, int count) throws IOException {
        file.readFloats(info, first, dst, dstOff, count);
    }

    /** Reads the whole tensor widened to float32 into dst (length must be at least numel). */
    public void readAll(float[] dst) throws IOException {
        file.readFloats(info, 0, dst, 0, Math.toIntExact(info.numel()));
    }
}
