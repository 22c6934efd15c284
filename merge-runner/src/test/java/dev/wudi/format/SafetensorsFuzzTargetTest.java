package dev.wudi.format;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * Jazzer fuzz target for the safetensors reader. Without JAZZER_FUZZ it replays the committed inputs in
 * src/test/resources/dev/wudi/format/SafetensorsFuzzTargetTestInputs/parseAndRead (a valid file per
 * layout and one file per rejection kind) as an ordinary test; with JAZZER_FUZZ=1 it fuzzes
 * (docs/reliability.md has the command and the record of runs).
 *
 * <p>Property: any bytes either parse, and then every tensor reads in full, or fail with a
 * SafetensorsException that has a kind and names the file. Any other exception, a hang, or an
 * allocation beyond the input's size is a finding.
 */
class SafetensorsFuzzTargetTest {

    private static final Path NAME = Path.of("fuzz-input.safetensors");

    @FuzzTest(maxDuration = "30s")
    void parseAndRead(byte[] input) throws Exception {
        SafetensorsFile f;
        try {
            f = SafetensorsFile.parse(ByteBuffer.wrap(input), NAME);
        } catch (SafetensorsException e) {
            if (e.kind() == null || !e.getMessage().startsWith(NAME.toString()) || e.file() != NAME) {
                throw new AssertionError("rejection without kind or file: " + e.getMessage(), e);
            }
            return;
        }
        try (f) {
            List<TensorInfo> tensors = f.tensors();
            long expected = 0;
            for (TensorInfo t : tensors) {
                // accepted layouts tile the data area exactly, in offset order
                if (t.begin() != expected || t.end() - t.begin() != t.byteSize()) {
                    throw new AssertionError("accepted a bad layout at " + t);
                }
                expected = t.end();
                if (t.byteSize() > input.length) {
                    throw new AssertionError("tensor larger than the input: " + t);
                }
                ByteBuffer raw = ByteBuffer.allocate((int) t.byteSize());
                f.readBytes(t, 0, raw);
                if (t.dtype().mergeable()) {
                    int n = (int) t.numel();
                    f.readFloats(t, 0, new float[n], 0, n);
                }
                if (!f.tensor(t.name()).equals(t)) {
                    throw new AssertionError("lookup by name differs for " + t.name());
                }
            }
            f.metadata().forEach((k, v) -> {
                if (k == null || v == null) {
                    throw new AssertionError("null in metadata");
                }
            });
        }
    }
}
