package dev.wudi.format;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file that changes under an open reader (truncated by another program, a disk that fails) makes the
 * mapped read fault; that must be an IOException naming the file and the tensor, not a JVM error.
 */
class SafetensorsReadFaultTest {

    @TempDir
    Path dir;

    @Test
    void fileTruncatedWhileOpenIsAnIoErrorNamingFileAndTensor() throws IOException {
        Path p = dir.resolve("shrinks.safetensors");
        int n = 1 << 16; // 256 KiB: whole pages past the cut
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(new TensorSpec("big.weight", DType.F32,
                new long[] {n})), Map.of())) {
            w.writeFloats(new float[n], 0, n);
            w.finish();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            TensorInfo t = f.tensor("big.weight");
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                ch.truncate(4096);
            }
            IOException e = assertThrows(IOException.class, () -> f.readFloats(t, n - 1024, new float[1024], 0, 1024));
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("big.weight"), e::getMessage);
            IOException raw = assertThrows(IOException.class, () -> f.readBytes(t, 4L * (n - 1024),
                    ByteBuffer.allocate(4096)));
            assertTrue(raw.getMessage().contains("shrank") && raw.getMessage().contains("big.weight"), raw::getMessage);
        }
    }
}
