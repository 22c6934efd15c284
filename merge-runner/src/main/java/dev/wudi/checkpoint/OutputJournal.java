package dev.wudi.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The journal of a partial output, `.NAME.wudi-journal` beside the destination: a first line with the
 * fingerprint of the merge (arguments and inputs), then one line per completed tensor with the shard
 * it ended in and its end offset in that shard's data area. A line is appended only after the data it
 * covers was forced to disk, and is itself forced, so after a crash (kill -9 included) every line read
 * back describes bytes that are on disk. A torn last line is ignored.
 */
final class OutputJournal implements AutoCloseable {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** One completed tensor: its index in output order, name, shard, data end in that shard, report record. */
    record Entry(int index, String name, int shard, long end, JsonNode record) {
    }

    private final Path path;
    private final FileChannel channel;
    private final List<Entry> entries;

    private OutputJournal(Path path, FileChannel channel, List<Entry> entries) {
        this.path = path;
        this.channel = channel;
        this.entries = entries;
    }

    /** Starts a new journal (replacing any) with the fingerprint as its first line. */
    static OutputJournal start(Path path, ObjectNode fingerprint) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        OutputJournal j = new OutputJournal(path, ch, new ArrayList<>());
        try {
            j.appendLine(fingerprint);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return j;
    }

    /**
     * Reopens an existing journal for --resume: its fingerprint must equal this run's, field by field.
     *
     * @throws CheckpointException naming what differs, with the hint to rerun without --resume
     */
    static OutputJournal resume(Path path, ObjectNode fingerprint) throws IOException {
        List<String> lines = new ArrayList<>();
        byte[] all = Files.readAllBytes(path);
        String text = new String(all, StandardCharsets.UTF_8);
        int from = 0;
        for (int nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
            lines.add(text.substring(from, nl));
            from = nl + 1;
        }
        // bytes after the last newline are a line torn by a crash: ignored, and cut off below
        long validBytes = text.substring(0, from).getBytes(StandardCharsets.UTF_8).length;
        if (lines.isEmpty()) {
            throw new CheckpointException("--resume: the journal " + path + " is empty (the earlier run stopped"
                    + " before it began writing); run again without --resume");
        }
        JsonNode recorded;
        try {
            recorded = MAPPER.readTree(lines.get(0));
        } catch (IOException e) {
            throw new CheckpointException("--resume: " + path + " is not a wudi journal; run without --resume");
        }
        List<String> differences = differences(recorded, fingerprint);
        if (!differences.isEmpty()) {
            throw new CheckpointException("--resume: the partial output was made by a different merge ("
                    + String.join("; ", differences) + "); rerun with the same arguments and unchanged inputs,"
                    + " or without --resume to start over");
        }
        List<Entry> entries = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            JsonNode n;
            try {
                n = MAPPER.readTree(lines.get(i));
            } catch (IOException e) {
                n = null;
            }
            if (n == null || !n.path("i").canConvertToInt() || n.path("i").asInt() != i - 1) {
                throw new CheckpointException("--resume: " + path + " line " + (i + 1) + " is damaged; run"
                        + " without --resume to start over");
            }
            entries.add(new Entry(n.get("i").asInt(), n.path("name").asText(), n.path("shard").asInt(),
                    n.path("end").asLong(), n.path("record")));
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE);
        ch.truncate(validBytes);
        ch.position(validBytes);
        return new OutputJournal(path, ch, entries);
    }

    /** "key: recorded vs now" for every field that differs (fields are flat strings). */
    private static List<String> differences(JsonNode recorded, ObjectNode now) {
        List<String> out = new ArrayList<>();
        TreeSet<String> keys = new TreeSet<>();
        recorded.fieldNames().forEachRemaining(keys::add);
        now.fieldNames().forEachRemaining(keys::add);
        for (String k : keys) {
            String a = recorded.has(k) ? recorded.get(k).asText() : "(none)";
            String b = now.has(k) ? now.get(k).asText() : "(none)";
            if (!a.equals(b)) {
                out.add(k + ": " + a + " then, " + b + " now");
            }
        }
        return out;
    }

    /** Tensors recorded as complete, in output order. */
    List<Entry> entries() {
        return entries;
    }

    Path path() {
        return path;
    }

    /** Records a completed tensor; its data must already be forced to disk. */
    void append(Entry e) throws IOException {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("i", e.index()).put("name", e.name()).put("shard", e.shard()).put("end", e.end());
        n.set("record", e.record());
        appendLine(n);
        entries.add(e);
    }

    private void appendLine(JsonNode n) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((MAPPER.writeValueAsString(n) + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            channel.write(b);
        }
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** Flat fingerprint from string fields, in a stable order. */
    static ObjectNode fingerprint(Map<String, String> fields) {
        ObjectNode n = MAPPER.createObjectNode();
        for (Iterator<Map.Entry<String, String>> it = fields.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, String> e = it.next();
            n.put(e.getKey(), e.getValue());
        }
        return n;
    }
}
