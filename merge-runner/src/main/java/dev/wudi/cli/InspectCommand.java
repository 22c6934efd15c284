package dev.wudi.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.TensorInfo;
import dev.wudi.lora.AdapterConfig;
import dev.wudi.lora.LoraAdapter;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "List a checkpoint's tensors (name, dtype, shape, bytes), its metadata and totals."
                + " Validates every header on the way.")
public final class InspectCommand implements Callable<Integer> {

    @Parameters(paramLabel = "PATH", description = "A .safetensors file, a Hugging Face model folder, or a PEFT LoRA"
            + " adapter folder (its config is checked and summarised: rank, alpha, modules, scaling).")
    Path path;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        LoraAdapter adapter = LoraAdapter.isAdapter(path) ? LoraAdapter.open(path) : null;  // checks it whole
        try (LoraAdapter closed = adapter;
             Checkpoint c = Checkpoint.open(adapter != null ? path.resolve(LoraAdapter.WEIGHTS) : path)) {
            if (json) {
                out.println(toJson(c, adapter));
                return 0;
            }
            if (adapter != null) {
                AdapterConfig a = adapter.config();
                out.printf(Locale.ROOT, "%s: PEFT LoRA adapter: %s%s%s%n", path, adapter.describe(),
                        a.fanInFanOut() ? ", fan_in_fan_out" : "",
                        a.baseModel() != null ? ", trained on " + a.baseModel() : "");
            }
            int width = 4;
            for (String n : c.names()) {
                width = Math.max(width, n.length());
            }
            out.printf(Locale.ROOT, "%s: %s, %d tensors, %s%n", c.path(), c.isFolder() ? "folder" : "file",
                    c.names().size(), human(c.totalBytes()));
            boolean sharded = c.weightFiles().size() > 1;
            if (sharded) {
                out.printf(Locale.ROOT, "shards: %d%n", c.weightFiles().size());
            }
            // in name order (a file's own order is by offset, a sharded folder's by shard): what a reader looks up
            java.util.List<String> names = new java.util.ArrayList<>(c.names());
            java.util.Collections.sort(names);
            out.printf(Locale.ROOT, "%-" + width + "s  %-6s %-20s %12s%s%n", "name", "dtype", "shape", "bytes",
                    sharded ? "  shard" : "");
            Map<String, Long> byDtype = new TreeMap<>();
            for (String n : names) {
                TensorRef r = c.tensor(n);
                TensorInfo t = r.info();
                out.printf(Locale.ROOT, "%-" + width + "s  %-6s %-20s %12d%s%n", t.name(), t.dtype(), t.shapeString(),
                        t.byteSize(), sharded ? "  " + r.path().getFileName() : "");
                byDtype.merge(t.dtype().name(), t.byteSize(), Long::sum);
            }
            out.println("bytes by dtype: " + byDtype);
            for (java.nio.file.Path f : c.weightFiles()) {
                Map<String, String> meta;
                try (dev.wudi.format.SafetensorsFile sf = dev.wudi.format.SafetensorsFile.open(f)) {
                    meta = sf.metadata();
                }
                if (!meta.isEmpty()) {
                    out.println("metadata" + (sharded ? " of " + f.getFileName() : "") + ":");
                    meta.forEach((k, v) -> out.println("  " + k + ": " + v));
                }
            }
        }
        return 0;
    }

    private static String toJson(Checkpoint c, LoraAdapter adapter) throws Exception {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        root.put("schema", JsonProgress.SCHEMA);
        root.put("path", c.path().toString());
        if (adapter != null) {
            ObjectNode a = root.putObject("lora_adapter");
            a.put("r", adapter.config().r());
            a.put("lora_alpha", adapter.config().loraAlpha());
            a.put("use_rslora", adapter.config().useRslora());
            a.put("fan_in_fan_out", adapter.config().fanInFanOut());
            a.put("base_model_name_or_path", adapter.config().baseModel());
            ArrayNode mods = a.putArray("modules");
            for (LoraAdapter.Module m : adapter.modules()) {
                ObjectNode mn = mods.addObject();
                mn.put("module", m.module());
                mn.put("rank", m.rank());
                mn.put("scaling", m.scaling());
                mn.put("out", m.out());
                mn.put("in", m.in());
            }
            ArrayNode full = a.putArray("full_tensors");
            adapter.fullTensors().keySet().forEach(full::add);
        }
        root.put("layout", c.isFolder() ? "folder" : "file");
        root.put("total_bytes", c.totalBytes());
        ArrayNode files = root.putArray("files");
        c.weightFiles().forEach(p -> files.add(p.toString()));
        ArrayNode tensors = root.putArray("tensors");
        for (Iterator<TensorRef> it = c.iterator(); it.hasNext(); ) {
            TensorRef r = it.next();
            ObjectNode n = tensors.addObject();
            n.put("name", r.name());
            n.put("dtype", r.info().dtype().name());
            ArrayNode shape = n.putArray("shape");
            for (long d : r.info().shape()) {
                shape.add(d);
            }
            n.put("bytes", r.info().byteSize());
            n.put("file", r.path().getFileName().toString());
        }
        ObjectNode meta = root.putObject("metadata");
        c.metadata().forEach(meta::put);
        return mapper.writeValueAsString(root);
    }

    static String human(long bytes) {
        return dev.wudi.checkpoint.FreeSpace.human(bytes);
    }
}
