package dev.wudi.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsException;
import dev.wudi.format.SafetensorsException.Kind;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sharded folder's index is as hostile as its shards: every inconsistency between the index and the
 * files fails with BAD_INDEX, naming the index (and the tensor where there is one).
 */
class ShardedFolderRejectTest {

    @TempDir
    Path dir;

    private static void shard(Path file, String... tensors) throws IOException {
        List<TensorSpec> specs = new java.util.ArrayList<>();
        for (String t : tensors) {
            specs.add(new TensorSpec(t, DType.F32, new long[] {2}));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of())) {
            w.writeFloats(new float[2 * tensors.length], 0, 2 * tensors.length);
            w.finish();
        }
    }

    private Path folder(String weightMapJson) throws IOException {
        Path d = Files.createDirectories(dir.resolve("m" + System.nanoTime()));
        shard(d.resolve("s1.safetensors"), "a", "b");
        shard(d.resolve("s2.safetensors"), "c");
        Files.writeString(d.resolve(Checkpoint.INDEX_FILE), "{\"metadata\":{\"total_size\":24},\"weight_map\":"
                + weightMapJson + "}");
        return d;
    }

    private static SafetensorsException rejected(Path folder, String tensor, String... words) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(folder).close());
        assertEquals(Kind.BAD_INDEX, e.kind(), e::getMessage);
        assertTrue(e.getMessage().contains(folder.resolve(Checkpoint.INDEX_FILE).toString()), e::getMessage);
        if (tensor != null) {
            assertEquals(tensor, e.tensor(), e::getMessage);
        }
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), () -> "'" + w + "' in " + e.getMessage());
        }
        return e;
    }

    @Test
    void consistentFolderOpens() throws IOException {
        Path d = folder("{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}");
        try (Checkpoint c = Checkpoint.open(d)) {
            assertEquals(List.of("a", "b", "c"), c.names());
        }
    }

    @Test
    void pathsEscapingTheFolderAreRefused() throws IOException {
        Files.writeString(dir.resolve("outside.safetensors"), "not read");
        rejected(folder("{\"a\":\"../../etc/passwd\",\"b\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}"), "a",
                "../../etc/passwd");
        rejected(folder("{\"a\":\"../outside.safetensors\"}"), "a");
        rejected(folder("{\"a\":\"/etc/passwd\"}"), "a");
        rejected(folder("{\"a\":\"..\\\\outside.safetensors\"}"), "a");
        rejected(folder("{\"a\":\"..\"}"), "a");
        rejected(folder("{\"a\":\"sub/s1.safetensors\"}"), "a");
        rejected(folder("{\"a\":\"\"}"), "a");
        // found by fuzzing: a lone surrogate is valid JSON but no file name
        rejected(folder("{\"a\":\"x\\udeda.safetensors\"}"), "a", "not a valid file name");
    }

    @Test
    void missingShardIsNamed() throws IOException {
        rejected(folder("{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s3.safetensors\"}"), null,
                "s3.safetensors", "missing");
    }

    @Test
    void tensorMappedToAShardThatLacksIt() throws IOException {
        // d is mapped to s2, which exists but does not hold it
        rejected(folder("{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s2.safetensors\","
                + "\"d\":\"s2.safetensors\"}"), "d", "s2.safetensors", "does not hold it");
    }

    @Test
    void shardHoldingATensorTheIndexPutsElsewhereOrNowhere() throws IOException {
        // c lives in s2 but the index says s1: s2 is referenced but holds another shard's tensor
        rejected(folder("{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s1.safetensors\","
                + "\"x\":\"s2.safetensors\"}"), "c", "s2.safetensors");
        // b is in s1 but absent from the index
        rejected(folder("{\"a\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}"), "b", "nothing");
    }

    @Test
    void malformedIndexes() throws IOException {
        rejected(folder("{\"a\":3}"), "a", "not a file name");
        rejected(folder("{}"), null, "empty");
        rejected(folder("[]"), null, "weight_map");
        rejected(folder("{\"a\":\"s1.safetensors\",\"a\":\"s2.safetensors\"}"), null, "JSON");
        Path d = folder("{}");
        Files.writeString(d.resolve(Checkpoint.INDEX_FILE), "{\"weight_map\": {\"a\": ");
        rejected(d, null, "not valid JSON");
    }
}
