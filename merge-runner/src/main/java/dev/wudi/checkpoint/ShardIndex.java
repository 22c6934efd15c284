package dev.wudi.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.wudi.format.SafetensorsException;
import dev.wudi.format.SafetensorsException.Kind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * model.safetensors.index.json of a sharded Hugging Face folder: {"metadata": {"total_size": N},
 * "weight_map": {tensor: shard file}}. Treated as hostile: size-capped, strict JSON, and every shard
 * name must be a plain file inside the folder (no "../../etc/passwd").
 */
public final class ShardIndex {

    /** Real indexes are a few hundred KB even for the largest models. */
    static final long MAX_INDEX_BYTES = 100L * 1000 * 1000;

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    private ShardIndex() {
    }

    /** Returns the weight map (tensor -> shard file name), in the index's order. */
    public static Map<String, String> read(Path index) throws IOException {
        long size = Files.size(index);
        if (size > MAX_INDEX_BYTES) {
            throw new SafetensorsException(Kind.BAD_INDEX, index,
                    "index is " + size + " bytes, more than the " + MAX_INDEX_BYTES + " accepted");
        }
        return parse(Files.readAllBytes(index), index);
    }

    /**
     * Validates index bytes already in memory with the same checks as {@link #read} (for fuzzing);
     * index names the file in messages.
     */
    public static Map<String, String> parse(byte[] json, Path index) throws SafetensorsException {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(Kind.BAD_INDEX, index, "not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new SafetensorsException(Kind.BAD_INDEX, index, "not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(Kind.BAD_INDEX, index, "not a JSON object");
        }
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new SafetensorsException(Kind.BAD_INDEX, index, "no \"weight_map\" object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new SafetensorsException(Kind.BAD_INDEX, index, e.getKey(),
                        "weight_map value is not a file name");
            }
            checkShardName(index, e.getKey(), e.getValue().asText());
            out.put(e.getKey(), e.getValue().asText());
        }
        if (out.isEmpty()) {
            throw new SafetensorsException(Kind.BAD_INDEX, index, "weight_map is empty");
        }
        return out;
    }

    private static void checkShardName(Path index, String tensor, String shard) throws SafetensorsException {
        boolean plain = !shard.isEmpty() && !shard.equals(".") && !shard.equals("..")
                && shard.indexOf('/') < 0 && shard.indexOf('\\') < 0 && shard.indexOf('\0') < 0;
        if (!plain) {
            throw new SafetensorsException(Kind.BAD_INDEX, index, tensor,
                    "shard name '" + shard + "' is not a plain file name in the model folder");
        }
        try {
            // a name the file system cannot spell (found by fuzzing: a lone UTF-16 surrogate from a
            // JSON escape) must fail here, naming the index, not later as a bare InvalidPathException
            Path.of(shard);
        } catch (InvalidPathException e) {
            throw new SafetensorsException(Kind.BAD_INDEX, index, tensor,
                    "shard name '" + shard + "' is not a valid file name (" + e.getReason() + ")");
        }
    }

    /** The shard's path inside dir, checked to exist and not to escape the folder. */
    static Path resolveShard(Path dir, Path index, String shard) throws SafetensorsException {
        Path base = dir.toAbsolutePath().normalize();
        Path p = base.resolve(shard).normalize();
        if (!base.equals(p.getParent())) {
            throw new SafetensorsException(Kind.BAD_INDEX, index,
                    "shard name '" + shard + "' points outside the model folder");
        }
        if (!Files.isRegularFile(p)) {
            throw new SafetensorsException(Kind.BAD_INDEX, index,
                    "shard " + shard + " is listed in the index but missing from " + dir);
        }
        return p;
    }
}
