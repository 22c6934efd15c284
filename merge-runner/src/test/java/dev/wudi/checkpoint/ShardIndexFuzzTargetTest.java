package dev.wudi.checkpoint;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wudi.format.SafetensorsException;

import java.nio.file.Path;
import java.util.Map;

/**
 * Jazzer fuzz target for the index of a sharded folder (model.safetensors.index.json). Replays the
 * committed inputs in src/test/resources/dev/wudi/checkpoint/ShardIndexFuzzTargetTestInputs/parseIndex
 * in every test run; fuzzes with JAZZER_FUZZ=1 (docs/reliability.md).
 *
 * <p>Property: any bytes either fail with a BAD_INDEX SafetensorsException naming the index, or give a
 * non-empty weight map whose every shard name resolves to a file directly inside the model folder.
 */
class ShardIndexFuzzTargetTest {

    private static final Path DIR = Path.of("/models/fuzz").toAbsolutePath();
    private static final Path INDEX = DIR.resolve(Checkpoint.INDEX_FILE);

    @FuzzTest(maxDuration = "30s")
    void parseIndex(byte[] input) throws Exception {
        Map<String, String> map;
        try {
            map = ShardIndex.parse(input, INDEX);
        } catch (SafetensorsException e) {
            if (e.kind() != SafetensorsException.Kind.BAD_INDEX || !e.getMessage().startsWith(INDEX.toString())) {
                throw new AssertionError("rejection of the wrong kind or without the file: " + e.getMessage(), e);
            }
            return;
        }
        if (map.isEmpty()) {
            throw new AssertionError("accepted an empty weight map");
        }
        for (Map.Entry<String, String> e : map.entrySet()) {
            Path p = DIR.resolve(e.getValue()).normalize();
            if (!DIR.equals(p.getParent())) {
                throw new AssertionError("shard '" + e.getValue() + "' of " + e.getKey() + " escapes the folder: " + p);
            }
        }
    }
}
