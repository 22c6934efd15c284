package dev.wudi.config;

import com.fasterxml.jackson.core.ErrorReportConfiguration;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.ContentReference;
import com.fasterxml.jackson.core.io.IOContext;
import com.fasterxml.jackson.core.util.BufferRecycler;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.parser.ParserImpl;

/**
 * A YAML document as a JSON tree that remembers the line of every key and list item (by JSON pointer), so a
 * refusal can say "line 12: unknown key 'desnity'" as a user editing the file needs.
 */
public final class LocatedYaml {

    private final Path file;
    private final JsonNode root;
    private final Map<String, Integer> lines;
    private final Map<String, String> numberTexts;

    private LocatedYaml(Path file, JsonNode root, Map<String, Integer> lines, Map<String, String> numberTexts) {
        this.file = file;
        this.root = root;
        this.lines = lines;
        this.numberTexts = numberTexts;
    }

    /**
     * The largest config read: mergekit configs are a few kilobytes (a long chat template tens); anything near this
     * is another file given by mistake.
     */
    public static final long MAX_BYTES = 1 << 20;

    /**
     * Reads one YAML document; a syntax error is a {@link ConfigException} with its line. Refused with the file and
     * the line: a file over {@link #MAX_BYTES}, text that is not UTF-8, a second document, an alias, a number beyond
     * float64.
     */
    public static LocatedYaml read(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new ConfigException(file + ": no such file");
        }
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(file + ": not a regular file (a folder, pipe or device); give the config file");
        }
        long size = Files.size(file);
        if (size > MAX_BYTES) {
            throw new ConfigException(file + ": " + size + " bytes, more than a merge config holds (at most "
                    + MAX_BYTES + "); is it the right file?");
        }
        byte[] bytes;
        try (java.io.InputStream in = Files.newInputStream(file)) {
            bytes = in.readNBytes((int) MAX_BYTES + 1);        // never more, should the file grow meanwhile
        }
        if (bytes.length > MAX_BYTES) {
            throw new ConfigException(file + ": more than " + MAX_BYTES + " bytes, more than a merge config holds");
        }
        return parse(file, utf8(file, bytes));
    }

    /** UTF-8 text (a byte-order mark dropped), else refused naming the line of the first bad byte. */
    private static String utf8(Path file, byte[] bytes) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = d.decode(in, out, true);
        if (r.isError()) {
            int line = 1;
            for (int i = 0; i < in.position(); i++) {          // the decoder stops at the first bad byte
                line += bytes[i] == '\n' ? 1 : 0;
            }
            throw new ConfigException(file + ":" + line + ": not UTF-8 text (a merge config is UTF-8)");
        }
        d.flush(out);
        String s = out.flip().toString();
        return s.startsWith("\uFEFF") ? s.substring(1) : s;
    }

    /** Parses a config's text (no size cap: {@link #read} applies it); {@code file} names it in messages. */
    static LocatedYaml parse(Path file, String text) throws IOException {
        return parse(file, new WholeTextReader(file.toString(), text));
    }

    static LocatedYaml parse(Path file, WholeTextReader reader) throws IOException {
        Map<String, Integer> lines = new HashMap<>();
        Map<String, String> numberTexts = new HashMap<>();
        try (JsonParser p = parser(file, reader)) {
            JsonToken t = p.nextToken();
            if (t == null) {
                throw new ConfigException(file + ": the file is empty");
            }
            JsonNode root = value(file, p, "", lines, numberTexts);
            if (p.nextToken() != null) {
                // mergekit's yaml.safe_load refuses a stream of several documents too
                throw new ConfigException(file + ":" + p.currentLocation().getLineNr() + ": a second YAML document"
                        + " (after ---); a merge config is one document");
            }
            return new LocatedYaml(file, root, lines, numberTexts);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            int line = e.getLocation() == null ? -1 : e.getLocation().getLineNr();
            throw new ConfigException(file + (line > 0 ? ":" + line : "") + ": not valid YAML: "
                    + e.getOriginalMessage().lines().findFirst().orElse(""));
        }
    }

    /** Jackson's YAML parser over {@link WholeTextReader} (its own reader scans long tokens in quadratic time). */
    private static JsonParser parser(Path file, WholeTextReader reader) {
        YAMLFactory f = new YAMLFactory();
        IOContext ctxt = new IOContext(f.streamReadConstraints(), f.streamWriteConstraints(),
                ErrorReportConfiguration.defaults(), new BufferRecycler(), ContentReference.rawReference(file), false);
        return new Parser(ctxt, f.getParserFeatures(), f.getFormatParserFeatures(),
                new ParserImpl(reader, new LoaderOptions()));
    }

    /** Reaches YAMLParser's constructor that takes SnakeYAML's parser (so, its reader). */
    private static final class Parser extends YAMLParser {
        Parser(IOContext ctxt, int features, int formatFeatures, ParserImpl impl) {
            super(ctxt, features, formatFeatures, null, new java.io.StringReader(""), impl);
        }
    }

    private static JsonNode value(Path file, JsonParser p, String pointer, Map<String, Integer> lines,
                                  Map<String, String> numberTexts) throws IOException {
        JsonNodeFactory f = JsonNodeFactory.instance;
        int line = p.currentLocation().getLineNr();
        lines.putIfAbsent(pointer, line);
        if (p instanceof YAMLParser y && y.isCurrentAlias()) {
            // PyYAML would expand it; refused rather than half-supported (Jackson reads an alias as its name)
            throw new ConfigException(file + ":" + line + ": the YAML alias *" + p.getText() + " is not supported;"
                    + " write the value out where it is used");
        }
        switch (p.currentToken()) {
            case START_OBJECT: {
                ObjectNode o = f.objectNode();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    String child = pointer + "/" + escape(key);
                    lines.put(child, p.currentLocation().getLineNr());
                    p.nextToken();
                    if (o.has(key)) {
                        throw new ConfigException(file + ":" + lines.get(child) + ": key '" + key + "' given twice");
                    }
                    o.set(key, value(file, p, child, lines, numberTexts));
                }
                return o;
            }
            case START_ARRAY: {
                ArrayNode a = f.arrayNode();
                int i = 0;
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    String child = pointer + "/" + i++;
                    lines.put(child, p.currentLocation().getLineNr());
                    a.add(value(file, p, child, lines, numberTexts));
                }
                return a;
            }
            case VALUE_STRING:
                return f.textNode(p.getText());
            case VALUE_NUMBER_INT:
                numberTexts.put(pointer, p.getText());
                // beyond a long: kept whole, so the setting's range check names it (iterations: 99999999999999999999)
                return p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? f.numberNode(p.getBigIntegerValue())
                        : f.numberNode(p.getLongValue());
            case VALUE_NUMBER_FLOAT: {
                numberTexts.put(pointer, p.getText());
                double v = p.getDoubleValue();
                if (Double.isInfinite(v)) {
                    throw new ConfigException(file + ":" + line + ": the number " + p.getText() + " is beyond any"
                            + " float (about 1.8e308; the arithmetic is float32, at most 3.4e38)");
                }
                return f.numberNode(v);
            }
            case VALUE_TRUE:
                return f.booleanNode(true);
            case VALUE_FALSE:
                return f.booleanNode(false);
            case VALUE_NULL:
                return f.nullNode();
            default:
                throw new ConfigException(file + ":" + line + ": unexpected " + p.currentToken());
        }
    }

    private static String escape(String key) {
        return key.replace("~", "~0").replace("/", "~1");
    }

    public Path file() {
        return file;
    }

    public JsonNode root() {
        return root;
    }

    /** The line of the key or item at this JSON pointer ("/models/1/parameters/weight"), or -1. */
    public int line(String pointer) {
        return lines.getOrDefault(pointer, -1);
    }

    /** The text of the number at this JSON pointer as the file spells it ("1e-5", "0.50"), or null. */
    public String numberText(String pointer) {
        return numberTexts.get(pointer);
    }

    /** "FILE:LINE" for messages. */
    public String where(String pointer) {
        int l = line(pointer);
        return file + (l > 0 ? ":" + l : "");
    }
}
