package dev.wudi.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.merge.DistributedMerge;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The folder where tasks leave their parts, on storage every node sees: a shared local path, or remote storage through
 * Hadoop ({@link RemoteStorage}). Each attempt writes its own part ({@code group-G-JOB-attempt-A.safetensors}, JOB
 * new for each job, so a rerun's parts never replace the earlier run's it resumes from); a completed part is then
 * recorded in a manifest beside it ({@code .done.json}, written to a temporary name and renamed), which names the
 * merge it belongs to ({@link PartsFingerprint}), so that a killed job's rerun with --resume finds the groups that
 * finished. Cleaning up removes only these files, and the folder if nothing else is in it.
 */
final class PartsStore implements java.io.Serializable {

    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The folder, as a URI (file:/... for a local path). */
    private final String dir;
    private final RemoteStorage storage;

    /** @param dir a local path or a remote URI (hdfs://, s3a://) */
    PartsStore(String dir, RemoteStorage storage) {
        this.dir = RemoteStorage.isRemote(dir) ? dir
                : java.nio.file.Path.of(dir).toAbsolutePath().normalize().toUri().toString();
        this.storage = storage;
    }

    RemoteStorage storage() {
        return storage;
    }

    /** The folder as a local path, where it is one (tasks then write their parts into it directly); else null. */
    java.nio.file.Path localDir() {
        return dir.startsWith("file:") ? java.nio.file.Path.of(java.net.URI.create(dir)) : null;
    }

    @Override
    public String toString() {
        java.nio.file.Path local = localDir();
        return local != null ? local.toString() : dir;
    }

    private Path path(String name) {
        return new Path(new Path(dir), name);
    }

    private FileSystem fs() throws IOException {
        return storage.fs(new Path(dir));
    }

    /**
     * @param job     this job's own name among the runs that used the folder
     * @param attempt Spark's task attempt id: unique within the job, so attempts of one group never share a file
     */
    static String partName(String job, int group, long attempt) {
        return String.format(java.util.Locale.ROOT, "group-%05d-%s-attempt-%d.safetensors", group, job, attempt);
    }

    void create() throws IOException {
        fs().mkdirs(new Path(dir));
    }

    /** Stores a finished part written locally elsewhere (a no-op where the folder is local and it was written here). */
    void put(java.nio.file.Path part, String name) throws IOException {
        java.nio.file.Path local = localDir();
        if (local != null && part.toAbsolutePath().normalize().equals(local.resolve(name))) {
            return;
        }
        fs().copyFromLocalFile(false, true, new Path(part.toAbsolutePath().toUri()), path(name));
    }

    /** Records a completed part: written to a temporary name, then renamed. */
    void writeManifest(String part, Map<String, String> fingerprint, List<DistributedMerge.PartTensor> tensors)
            throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("schema", 2);
        ObjectNode merge = n.putObject("merge");
        fingerprint.forEach(merge::put);
        n.put("part", part);
        ArrayNode t = n.putArray("tensors");
        for (DistributedMerge.PartTensor p : tensors) {
            t.addObject().put("name", p.name()).put("record", p.record());
        }
        FileSystem fs = fs();
        Path tmp = path(part + ".done.json.tmp");
        Path done = path(part + ".done.json");
        try (OutputStream o = fs.create(tmp, true)) {
            o.write(JSON.writeValueAsString(n).getBytes(StandardCharsets.UTF_8));
        }
        fs.delete(done, false);
        if (!fs.rename(tmp, done)) {
            throw new IOException("could not rename " + tmp + " to " + done);
        }
    }

    /**
     * The tensors of every completed part: name -> (part file name, its records). Parts whose file is gone are left
     * out; a part of another merge (its fingerprint differs) is refused, naming what differs: its tensors are not
     * this merge's, and starting over is the user's call.
     */
    Map<String, PartTask.Result> manifests(Map<String, String> fingerprint) throws IOException {
        Map<String, PartTask.Result> out = new LinkedHashMap<>();
        FileSystem fs = fs();
        if (!fs.exists(new Path(dir))) {
            return out;
        }
        FileStatus[] all = fs.listStatus(new Path(dir));
        Arrays.sort(all, Comparator.comparing(s -> s.getPath().getName()));
        for (FileStatus m : all) {
            if (!m.getPath().getName().endsWith(".done.json")) {
                continue;
            }
            JsonNode n;
            try (InputStream in = fs.open(m.getPath())) {
                n = JSON.readTree(in);
            }
            String part = n.path("part").asText();
            if (!fs.exists(path(part))) {
                continue;                               // its part is gone: computed again
            }
            Map<String, String> of = new LinkedHashMap<>();
            n.path("merge").fields().forEachRemaining(e -> of.put(e.getKey(), e.getValue().asText()));
            List<String> differences = n.path("merge").isObject() ? PartsFingerprint.differences(of, fingerprint)
                    : List.of("written by an earlier version of wudi-spark");
            if (!differences.isEmpty()) {
                throw new CheckpointException("--resume: the parts in " + this + " were computed for a different"
                        + " merge (" + String.join("; ", differences) + "); rerun with the same settings and unchanged"
                        + " inputs, or without --resume to start over");
            }
            List<DistributedMerge.PartTensor> tensors = new ArrayList<>();
            n.path("tensors").forEach(x -> tensors.add(new DistributedMerge.PartTensor(x.path("name").asText(),
                    x.path("record").asText())));
            PartTask.Result r = new PartTask.Result(-1, part, tensors, 0);
            tensors.forEach(x -> out.put(x.name(), r));
        }
        return out;
    }

    /**
     * A part as a local file for the driver to copy from: the part itself in a local folder, else downloaded into
     * {@code staging} (once).
     */
    java.nio.file.Path local(String part, java.nio.file.Path staging) throws IOException {
        java.nio.file.Path local = localDir();
        if (local != null) {
            return local.resolve(part);
        }
        java.nio.file.Path to = staging.resolve(part);
        if (!Files.exists(to)) {
            Files.createDirectories(staging);
            fs().copyToLocalFile(false, path(part), new Path(to.toAbsolutePath().toUri()), true);
        }
        return to;
    }

    /**
     * Removes the parts and manifests this command writes (group-*.safetensors, their .done.json and .tmp files), then
     * the folder if nothing else is left in it: a --parts-dir pointed at a folder holding other things loses nothing.
     */
    void clear() throws IOException {
        FileSystem fs = fs();
        Path d = new Path(dir);
        if (!fs.exists(d) || !fs.getFileStatus(d).isDirectory()) {
            return;
        }
        for (FileStatus s : fs.listStatus(d)) {
            String n = s.getPath().getName();
            if (s.isFile() && n.startsWith("group-") && (n.endsWith(".safetensors") || n.endsWith(".done.json")
                    || n.endsWith(".done.json.tmp"))) {
                fs.delete(s.getPath(), false);
            }
        }
        if (fs.listStatus(d).length == 0) {
            fs.delete(d, false);
        }
    }
}
