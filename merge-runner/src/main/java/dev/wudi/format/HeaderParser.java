package dev.wudi.format;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.SafetensorsException.Kind;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the JSON header of a safetensors file into validated tensor entries. Trusts nothing: every
 * check raises a {@link SafetensorsException} naming the file (and the tensor), and the checks run in
 * the order of {@link Kind}: UTF-8, JSON, metadata, duplicate names, then per tensor in header order
 * dtype, shape, size overflow, offsets, byte size, and last the layout of the data area as a whole.
 *
 * <p>An entry that is not an object, or that has a key other than dtype/shape/data_offsets, is reported
 * as BAD_SHAPE (the entry itself is misshapen); a missing key is reported as the kind of that key.
 */
final class HeaderParser {

    static final String METADATA_KEY = "__metadata__";

    /** The parsed header: tensors sorted by data offset, metadata in header order. */
    record Header(List<TensorInfo> tensors, Map<String, String> metadata) {
    }

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path file;

    private HeaderParser(Path file) {
        this.file = file;
    }

    /**
     * @param header   the N header bytes
     * @param dataSize bytes after the header (file size - 8 - N): every tensor must lie inside them
     */
    static Header parse(Path file, ByteBuffer header, long dataSize) throws SafetensorsException {
        return new HeaderParser(file).run(header, dataSize);
    }

    private Header run(ByteBuffer header, long dataSize) throws SafetensorsException {
        String json = decodeUtf8(header);
        ObjectNode root = parseObject(json);
        Map<String, String> metadata = readMetadata(root.get(METADATA_KEY));
        rejectDuplicates(json);

        List<TensorInfo> tensors = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (!e.getKey().equals(METADATA_KEY)) {
                tensors.add(readEntry(e.getKey(), e.getValue(), dataSize));
            }
        }
        checkLayout(tensors, dataSize);
        return new Header(Collections.unmodifiableList(tensors), Collections.unmodifiableMap(metadata));
    }

    private String decodeUtf8(ByteBuffer header) throws SafetensorsException {
        // REPORT (not the default REPLACE): a malformed header must fail, not be silently patched
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = header.duplicate();
        CharBuffer out = CharBuffer.allocate(in.remaining()); // UTF-8 never has more chars than bytes
        CoderResult result = decoder.decode(in, out, true);
        if (!result.isError()) {
            result = decoder.flush(out);
        }
        if (result.isError()) {
            throw fail(Kind.HEADER_NOT_UTF8, null, "header is not valid UTF-8: bad byte sequence at header byte "
                    + in.position());
        }
        return out.flip().toString();
    }

    private ObjectNode parseObject(String json) throws SafetensorsException {
        JsonNode root;
        long trailingAt = -1;
        try (JsonParser p = MAPPER.getFactory().createParser(json)) {
            root = MAPPER.readTree(p);
            // trailing whitespace (the spaces writers pad with) is fine; more JSON after the object is not
            if (root != null && p.nextToken() != null) {
                trailingAt = p.currentTokenLocation().getCharOffset();
            }
        } catch (JsonProcessingException e) {
            throw fail(Kind.HEADER_NOT_JSON, null, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw fail(Kind.HEADER_NOT_JSON, null, "header is not valid JSON: " + e.getMessage());
        }
        if (trailingAt >= 0) {
            throw fail(Kind.HEADER_NOT_JSON, null, "header has more text after its JSON object, at char " + trailingAt);
        }
        if (root == null || !root.isObject()) {
            String what = root == null || root.isMissingNode() ? "nothing"
                    : root.getNodeType().toString().toLowerCase(Locale.ROOT);
            throw fail(Kind.HEADER_NOT_JSON, null, "header must be a JSON object, found " + what);
        }
        return (ObjectNode) root;
    }

    private Map<String, String> readMetadata(JsonNode node) throws SafetensorsException {
        Map<String, String> metadata = new LinkedHashMap<>();
        if (node == null) {
            return metadata;
        }
        if (!node.isObject()) {
            throw fail(Kind.BAD_METADATA, null, METADATA_KEY + " must be an object of strings, found "
                    + describe(node));
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw fail(Kind.BAD_METADATA, null, METADATA_KEY + " value of '" + e.getKey()
                        + "' must be a string, found " + describe(e.getValue()));
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
        return metadata;
    }

    /**
     * A tree keeps only the last of two equal keys, so duplicates are found by a second, streaming
     * pass with Jackson's strict duplicate detection. The text already parsed once, so any parse error
     * here can only be a duplicate.
     */
    private void rejectDuplicates(String json) throws SafetensorsException {
        JsonFactory factory = MAPPER.getFactory();
        try (JsonParser p = factory.createParser(json)) {
            p.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            while (p.nextToken() != null) {
                // the parser checks each name as it reads it
            }
        } catch (JsonProcessingException e) {
            if (e.getProcessor() instanceof JsonParser p) {
                // the context is the object holding the repeated key, whose name is already set
                JsonStreamContext object = p.getParsingContext();
                String key = object.getCurrentName();
                JsonStreamContext top = object;
                while (top.getParent() != null && !top.getParent().inRoot()) {
                    top = top.getParent();
                }
                String entry = top.getCurrentName();
                String tensor = METADATA_KEY.equals(entry) ? null : entry;
                String where = object == top ? "" : " inside " + (tensor == null ? METADATA_KEY : "its entry");
                throw fail(Kind.DUPLICATE_NAME, tensor, "name '" + key + "' appears twice" + where);
            }
            throw fail(Kind.DUPLICATE_NAME, null, "duplicate name in header: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw fail(Kind.HEADER_NOT_JSON, null, "header is not valid JSON: " + e.getMessage());
        }
    }

    private TensorInfo readEntry(String name, JsonNode entry, long dataSize) throws SafetensorsException {
        if (!entry.isObject()) {
            throw fail(Kind.BAD_SHAPE, name, "entry must be an object with dtype, shape and data_offsets, found "
                    + describe(entry));
        }
        for (Map.Entry<String, JsonNode> property : entry.properties()) {
            String key = property.getKey();
            if (!key.equals("dtype") && !key.equals("shape") && !key.equals("data_offsets")) {
                throw fail(Kind.BAD_SHAPE, name, "unexpected key '" + key
                        + "' in entry (allowed: dtype, shape, data_offsets)");
            }
        }

        JsonNode dtypeNode = entry.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw fail(Kind.BAD_DTYPE, name, "dtype must be a string, found " + describe(dtypeNode));
        }
        DType dtype = DType.fromHeader(dtypeNode.textValue());
        if (dtype == null) {
            throw fail(Kind.BAD_DTYPE, name, "unknown dtype '" + dtypeNode.textValue() + "' (known: "
                    + Arrays.toString(DType.values()) + ")");
        }

        long[] shape = readNonNegativeLongs(entry.get("shape"), -1, Kind.BAD_SHAPE, name, "shape");

        long bytes = dtype.bytes();
        try {
            for (long d : shape) {
                bytes = Math.multiplyExact(bytes, d);
            }
        } catch (ArithmeticException e) {
            throw fail(Kind.SIZE_OVERFLOW, name, "shape " + Arrays.toString(shape) + " of " + dtype
                    + " has a byte size that overflows 64 bits");
        }

        long[] offsets = readNonNegativeLongs(entry.get("data_offsets"), 2, Kind.BAD_OFFSETS, name, "data_offsets");
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw fail(Kind.BAD_OFFSETS, name, "data_offsets [" + begin + ", " + end + "] begin after end");
        }
        if (end > dataSize) {
            throw fail(Kind.BAD_OFFSETS, name, "data_offsets [" + begin + ", " + end
                    + "] end beyond the data area of " + dataSize + " bytes");
        }
        if (end - begin != bytes) {
            throw fail(Kind.SIZE_MISMATCH, name, "data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes but " + dtype + " " + Arrays.toString(shape) + " needs " + bytes);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** An array of integers in [0, Long.MAX_VALUE]; length -1 means any length. */
    private long[] readNonNegativeLongs(JsonNode node, int length, Kind kind, String name, String key)
            throws SafetensorsException {
        if (node == null || !node.isArray()) {
            throw fail(kind, name, key + " must be an array of non-negative integers, found " + describe(node));
        }
        if (length >= 0 && node.size() != length) {
            throw fail(kind, name, key + " must have " + length + " elements, found " + node.size());
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            // integral only (2.0 is not an index); big integers must still fit a long
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw fail(kind, name, key + "[" + i + "] = " + v + " is not a non-negative 64-bit integer");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    /**
     * Sorted by (begin, end), the tensors must tile the data area exactly: the first at 0, each where
     * the previous ended, the last at its end. Zero-size tensors sit anywhere on a boundary.
     */
    private void checkLayout(List<TensorInfo> tensors, long dataSize) throws SafetensorsException {
        tensors.sort(Comparator.comparingLong(TensorInfo::begin)
                .thenComparingLong(TensorInfo::end)
                .thenComparing(TensorInfo::name));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : tensors) {
            if (t.begin() < expected) {
                throw fail(Kind.OVERLAPPING_OFFSETS, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                        + "] overlap tensor '" + previous.name() + "' ending at " + expected);
            }
            if (t.begin() > expected) {
                String before = previous == null ? "the start of the data area"
                        : "tensor '" + previous.name() + "' (ending at " + expected + ")";
                throw fail(Kind.HOLE_IN_DATA, t.name(), (t.begin() - expected) + " unused bytes between " + before
                        + " and this tensor at " + t.begin());
            }
            expected = t.end();
            previous = t;
        }
        if (expected != dataSize) {
            throw fail(Kind.DATA_NOT_AT_END, null, "tensors end at data offset " + expected + " but the data area has "
                    + dataSize + " bytes (" + (dataSize - expected) + " trailing bytes)");
        }
    }

    private static String describe(JsonNode node) {
        if (node == null) {
            return "nothing";
        }
        String text = node.toString();
        return text.length() > 60 ? text.substring(0, 60) + "..." : text;
    }

    private SafetensorsException fail(Kind kind, String tensor, String detail) {
        return new SafetensorsException(kind, file, tensor, detail);
    }
}
