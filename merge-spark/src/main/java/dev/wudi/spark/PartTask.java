package dev.wudi.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.merge.MergeOptions;
import dev.wudi.merge.Merger;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.resource.ResourceInformation;
import picocli.CommandLine;

/**
 * One Spark task: computes a group of the method's tensors into a part file on storage every node sees, exactly as
 * {@code wudi merge} would write them ({@link Merger#computePart}), and returns their report records. The options
 * come from the command line itself, parsed again here, so driver and executors merge with the same options.
 *
 * <p>Each attempt writes its own part ({@code group-G-attempt-A.safetensors}): a retried or speculative attempt never
 * touches another's file, and the driver takes the one attempt Spark reports. A completed part is then recorded in a
 * manifest beside it ({@link Manifest}), written to a temporary name and renamed, so that a killed job's rerun with
 * --resume finds the groups that finished.
 */
final class PartTask implements Function<TensorGroups.Group, PartTask.Result> {

    private static final long serialVersionUID = 1L;

    /** First attempts failed by the test switch wudi.spark.failFirstAttempt (local mode: this JVM's executors). */
    static final java.util.concurrent.atomic.AtomicInteger FAILED_ON_PURPOSE = new java.util.concurrent.atomic.AtomicInteger();

    /** What a task produced: its part file and the records of its tensors. */
    record Result(int group, String part, List<Merger.PartTensor> tensors) implements java.io.Serializable {
    }

    private final String[] args;
    private final String partsDir;
    private final List<String> fingerprint;

    PartTask(String[] args, String partsDir, List<String> fingerprint) {
        this.args = args.clone();
        this.partsDir = partsDir;
        this.fingerprint = List.copyOf(fingerprint);
    }

    @Override
    public Result call(TensorGroups.Group group) throws Exception {
        SparkMergeCommand cmd = new SparkMergeCommand();
        new CommandLine(cmd).parseArgs(args);
        MergeOptions options = cmd.options();
        TaskContext tc = TaskContext.get();
        long attempt = tc == null ? 0 : tc.taskAttemptId();
        if (tc != null && tc.attemptNumber() == 0 && Boolean.getBoolean("wudi.spark.failFirstAttempt")) {
            // a test switch (local mode: the executors share the driver's JVM): the first attempt fails after it has
            // written part of its output, as a lost executor would
            Files.writeString(Path.of(partsDir).resolve(String.format("group-%05d-attempt-%d.safetensors", group.id(),
                    attempt)), "half a part");
            FAILED_ON_PURPOSE.incrementAndGet();
            throw new IOException("failing the first attempt of group " + group.id() + " (wudi.spark.failFirstAttempt)");
        }
        String device = device(tc, cmd.device());
        Path dir = Path.of(partsDir);
        String name = String.format("group-%05d-attempt-%d.safetensors", group.id(), attempt);
        Path part = dir.resolve(name);
        List<Merger.PartTensor> done;
        try (Backend backend = Backends.select(device, cmd.threads(), cmd.tf32(), line -> { })) {
            done = new Merger(options, backend, null).computePart(group.names(), part);
        }
        Manifest.write(dir, name, fingerprint, done);
        return new Result(group.id(), part.toString(), done);
    }

    /**
     * The device for this task: the GPU Spark assigned to it (spark.task.resource.gpu.amount, a discovery script on
     * the executors), else the --device given (auto: a GPU if the executor has one, else its CPU cores).
     */
    static String device(TaskContext tc, String given) {
        if (tc != null) {
            ResourceInformation gpu = tc.resourcesJMap().get("gpu");
            if (gpu != null && gpu.addresses().length > 0) {
                return "cuda:" + gpu.addresses()[0];
            }
        }
        return given;
    }

    /** A completed part's record, for --resume after a killed job. */
    static final class Manifest {
        private static final ObjectMapper JSON = new ObjectMapper();

        private Manifest() {
        }

        static void write(Path dir, String part, List<String> fingerprint, List<Merger.PartTensor> tensors)
                throws IOException {
            ObjectNode n = JSON.createObjectNode();
            n.put("schema", 1);
            fingerprint.forEach(n.putArray("merge")::add);
            n.put("part", part);
            ArrayNode t = n.putArray("tensors");
            for (Merger.PartTensor p : tensors) {
                t.addObject().put("name", p.name()).put("record", p.record());
            }
            Path tmp = dir.resolve(part + ".done.json.tmp");
            Files.writeString(tmp, JSON.writeValueAsString(n));
            Files.move(tmp, dir.resolve(part + ".done.json"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        }

        /** The tensors of every completed part of this same merge in dir: name -> (part file, record). */
        static java.util.Map<String, Result> read(Path dir, List<String> fingerprint) throws IOException {
            java.util.Map<String, Result> out = new java.util.LinkedHashMap<>();
            if (!Files.isDirectory(dir)) {
                return out;
            }
            try (java.util.stream.Stream<Path> s = Files.list(dir)) {
                for (Path m : s.filter(p -> p.getFileName().toString().endsWith(".done.json")).sorted().toList()) {
                    com.fasterxml.jackson.databind.JsonNode n = JSON.readTree(m.toFile());
                    List<String> of = new java.util.ArrayList<>();
                    n.path("merge").forEach(x -> of.add(x.asText()));
                    Path part = dir.resolve(n.path("part").asText());
                    if (!of.equals(fingerprint) || !Files.isRegularFile(part)) {
                        continue;                       // another merge's, or its part is gone
                    }
                    List<Merger.PartTensor> tensors = new java.util.ArrayList<>();
                    n.path("tensors").forEach(x -> tensors.add(new Merger.PartTensor(x.path("name").asText(),
                            x.path("record").asText())));
                    Result r = new Result(-1, part.toString(), tensors);
                    tensors.forEach(x -> out.put(x.name(), r));
                }
            }
            return out;
        }
    }
}
