package dev.wudi.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/** The outcome of a merge: one record per tensor and the totals; written by --report as JSON. */
public record MergeReport(String method, String device, String out, List<TensorRecord> tensors,
                          List<String> warnings, double seconds, long outputBytes) {

    public int optimisedCount() {
        return (int) tensors.stream().filter(t -> !Double.isNaN(t.lossBefore())).count();
    }

    public double totalLossBefore() {
        return tensors.stream().filter(t -> !Double.isNaN(t.lossBefore())).mapToDouble(TensorRecord::lossBefore).sum();
    }

    public double totalLossAfter() {
        return tensors.stream().filter(t -> !Double.isNaN(t.lossAfter())).mapToDouble(TensorRecord::lossAfter).sum();
    }

    public ObjectNode toJson() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("method", method);
        root.put("device", device);
        root.put("out", out);
        ArrayNode arr = root.putArray("tensors");
        for (TensorRecord t : tensors) {
            ObjectNode n = arr.addObject();
            n.put("name", t.name());
            n.put("method", t.method());
            ArrayNode shape = n.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            n.put("dtype", t.dtype());
            putLoss(n, "loss_before", t.lossBefore());
            putLoss(n, "loss_after", t.lossAfter());
            n.put("seconds", t.seconds());
            if (!t.details().isEmpty()) {
                ObjectNode solver = n.putObject("solver");
                t.details().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                        .forEach(e -> putLoss(solver, e.getKey(), e.getValue()));
            }
        }
        ObjectNode totals = root.putObject("totals");
        totals.put("tensors", tensors.size());
        totals.put("optimised", optimisedCount());
        putLoss(totals, "loss_before", optimisedCount() == 0 ? Double.NaN : totalLossBefore());
        putLoss(totals, "loss_after", optimisedCount() == 0 ? Double.NaN : totalLossAfter());
        totals.put("seconds", seconds);
        totals.put("output_bytes", outputBytes);
        ArrayNode w = root.putArray("warnings");
        warnings.forEach(w::add);
        return root;
    }

    private static void putLoss(ObjectNode n, String key, double v) {
        if (Double.isNaN(v)) {
            n.putNull(key);
        } else {
            n.put(key, v);
        }
    }

    /** Writes the JSON report atomically (temporary file, then rename). */
    public void write(Path file) throws IOException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp");
        Files.writeString(tmp, mapper.writeValueAsString(toJson()) + "\n");
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
