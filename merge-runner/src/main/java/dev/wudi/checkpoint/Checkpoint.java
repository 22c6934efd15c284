package dev.wudi.checkpoint;

import dev.wudi.format.SafetensorsException;
import dev.wudi.format.SafetensorsException.Kind;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A model checkpoint as users hand it to us: a single .safetensors file, or a Hugging Face folder with
 * model.safetensors or shards listed in model.safetensors.index.json (specification 4). Opening it maps
 * every file and validates every header; no tensor data is read.
 */
public final class Checkpoint implements AutoCloseable {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path path;
    private final boolean folder;
    private final List<SafetensorsFile> files;
    /** Tensor name -> location, in a stable order: by file, then by offset within the file. */
    private final Map<String, TensorRef> tensors;
    private final Map<String, String> metadata;
    /** What the user should know of how the folder was read, or null. */
    private final String note;

    private Checkpoint(Path path, boolean folder, List<SafetensorsFile> files, Map<String, TensorRef> tensors,
                       Map<String, String> metadata) {
        this(path, folder, files, tensors, metadata, null);
    }

    private Checkpoint(Path path, boolean folder, List<SafetensorsFile> files, Map<String, TensorRef> tensors,
                       Map<String, String> metadata, String note) {
        this.path = path;
        this.folder = folder;
        this.files = files;
        this.tensors = tensors;
        this.metadata = metadata;
        this.note = note;
    }

    /**
     * A checkpoint composed of references that need not all lie in its own files (a LoRA adapter over its base:
     * the base's own tensors where the adapter leaves them, computed ones where it changes them). Closing it closes
     * {@code owned} only.
     */
    public static Checkpoint composed(Path path, boolean folder, List<SafetensorsFile> owned,
                                      Map<String, TensorRef> tensors, Map<String, String> metadata) {
        return new Checkpoint(path, folder, List.copyOf(owned), new LinkedHashMap<>(tensors), Map.copyOf(metadata));
    }

    /** Opens a .safetensors file or a Hugging Face model folder. */
    public static Checkpoint open(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new UsageMistakeException(path + ": no such file or folder");
        }
        if (dev.wudi.format.FileKinds.isSpecial(path)) {
            // never opened: a FIFO would block until a writer comes, a device could be read forever
            throw new UsageMistakeException(path + " is " + dev.wudi.format.FileKinds.describe(path)
                    + ", not a checkpoint file or folder");
        }
        if (Files.isDirectory(path)) {
            return openFolder(path);
        }
        SafetensorsFile f = SafetensorsFile.open(path);
        Map<String, TensorRef> refs = new LinkedHashMap<>();
        for (TensorInfo t : f.tensors()) {
            refs.put(t.name(), new TensorRef(f, t));
        }
        return new Checkpoint(path, false, List.of(f), refs, f.metadata());
    }

    /**
     * A folder's weights as transformers' from_pretrained finds them: model.safetensors where it exists (also beside
     * an index: that is what transformers loads, and the note says so, as mergekit would read the index instead),
     * else the shards of model.safetensors.index.json.
     */
    private static Checkpoint openFolder(Path dir) throws IOException {
        Path index = dir.resolve(INDEX_FILE);
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            Checkpoint c = open(single);
            String note = Files.isRegularFile(index) ? dir + " holds both " + SINGLE_FILE + " and " + INDEX_FILE + ": "
                    + SINGLE_FILE + " is read, as transformers loads it; the index and its shards are ignored" : null;
            return new Checkpoint(dir, true, c.files, c.tensors, c.metadata, note);
        }
        if (Files.isRegularFile(index)) {
            return openSharded(dir, index);
        }
        List<String> candidates = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().endsWith(".safetensors"))
                    .forEach(p -> candidates.add(p.getFileName().toString()));
        }
        Collections.sort(candidates);
        throw new CheckpointException(dir + ": neither " + SINGLE_FILE + " nor " + INDEX_FILE + " found"
                + (candidates.isEmpty() ? " (no .safetensors files at all)"
                : "; pass one of its files directly: " + String.join(", ", candidates)));
    }

    private static Checkpoint openSharded(Path dir, Path index) throws IOException {
        Map<String, String> weightMap = ShardIndex.read(index);
        // Open each shard once, in name order, so the tensor order is stable.
        Map<String, SafetensorsFile> shards = new TreeMap<>();
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            for (String shard : new java.util.TreeSet<>(weightMap.values())) {
                Path p = ShardIndex.resolveShard(dir, index, shard);
                SafetensorsFile f = SafetensorsFile.open(p);
                opened.add(f);
                shards.put(shard, f);
            }
            Map<String, TensorRef> refs = new LinkedHashMap<>();
            for (Map.Entry<String, SafetensorsFile> e : shards.entrySet()) {
                SafetensorsFile f = e.getValue();
                for (TensorInfo t : f.tensors()) {
                    String mapped = weightMap.get(t.name());
                    if (!e.getKey().equals(mapped)) {
                        throw new SafetensorsException(Kind.BAD_INDEX, index, t.name(),
                                "shard " + e.getKey() + " holds this tensor but the index maps it to "
                                        + (mapped == null ? "nothing" : mapped));
                    }
                    refs.put(t.name(), new TensorRef(f, t));
                }
            }
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                if (!refs.containsKey(e.getKey())) {
                    throw new SafetensorsException(Kind.BAD_INDEX, index, e.getKey(),
                            "mapped to " + e.getValue() + " but that shard does not hold it");
                }
            }
            Map<String, String> meta = opened.isEmpty() ? Map.of() : opened.get(0).metadata();
            return new Checkpoint(dir, true, List.copyOf(opened), refs, meta);
        } catch (IOException | RuntimeException ex) {
            opened.forEach(SafetensorsFile::close);
            throw ex;
        }
    }

    public Path path() {
        return path;
    }

    /** True for a Hugging Face folder (output then mirrors it as a folder). */
    public boolean isFolder() {
        return folder;
    }

    /** Tensor names in the checkpoint's stable order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** @throws CheckpointException naming the checkpoint and the tensor when absent */
    public TensorRef tensor(String name) {
        TensorRef r = tensors.get(name);
        if (r == null) {
            throw new CheckpointException(path + ": has no tensor '" + name + "'");
        }
        return r;
    }

    public Iterator<TensorRef> iterator() {
        return tensors.values().iterator();
    }

    /** How a folder was read where the user should know it (both a single file and an index), or null. */
    public String note() {
        return note;
    }

    /** The __metadata__ of the file (of the first shard for a sharded folder). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Sum of all tensors' byte sizes. */
    public long totalBytes() {
        long n = 0;
        for (TensorRef r : tensors.values()) {
            n += r.info().byteSize();
        }
        return n;
    }

    /** The safetensors files this checkpoint consists of. */
    public List<Path> weightFiles() {
        List<Path> out = new ArrayList<>();
        for (SafetensorsFile f : files) {
            out.add(f.path());
        }
        return out;
    }

    /**
     * The folder's other files (config.json, generation_config.json, tokenizer files, ...), which a
     * merged folder copies from the base. Empty for a single file. Sub-folders are not copied.
     */
    public List<Path> companionFiles() throws IOException {
        if (!folder) {
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(path)) {
            s.filter(Files::isRegularFile)
                    .filter(p -> !isWeightFileName(p.getFileName().toString()))
                    .sorted()
                    .forEach(out::add);
        }
        return out;
    }

    static boolean isWeightFileName(String name) {
        return name.endsWith(".safetensors") || name.equals(INDEX_FILE) || name.endsWith(".bin")
                || name.endsWith(".pt") || name.endsWith(".pth") || name.equals("pytorch_model.bin.index.json")
                || name.endsWith(".ckpt") || name.endsWith(".h5") || name.endsWith(".msgpack")
                || name.endsWith(".gguf") || name.endsWith(".onnx");
    }

    @Override
    public void close() {
        for (SafetensorsFile f : files) {
            f.close();
        }
    }

}
