package dev.wudi.checkpoint;

import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits an ordered list of output tensors into shards of at most maxBytes each (a tensor larger than
 * the limit gets a shard of its own), keeping the order, as Hugging Face's save_pretrained does.
 */
public record ShardPlan(List<List<TensorSpec>> shards) {

    public static ShardPlan of(List<TensorSpec> specs, long maxBytes) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("shard size must be positive, got " + maxBytes);
        }
        List<List<TensorSpec>> shards = new ArrayList<>();
        List<TensorSpec> current = new ArrayList<>();
        long bytes = 0;
        for (TensorSpec s : specs) {
            long b = s.byteSize();
            if (!current.isEmpty() && bytes + b > maxBytes) {
                shards.add(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(s);
            bytes += b;
        }
        if (!current.isEmpty() || shards.isEmpty()) {
            shards.add(current);
        }
        return new ShardPlan(List.copyOf(shards));
    }

    public int count() {
        return shards.size();
    }

    /** "model-00001-of-00003.safetensors", or model.safetensors when there is one shard. */
    public String fileName(int shard) {
        if (shards.size() == 1) {
            return Checkpoint.SINGLE_FILE;
        }
        return String.format("model-%05d-of-%05d.safetensors", shard + 1, shards.size());
    }

    /** Parses "5GB", "500MB", "2GiB", "64KiB" or a plain byte count (decimal units as Hugging Face). */
    public static long parseSize(String text) {
        String s = text.trim().toUpperCase(java.util.Locale.ROOT);
        long unit = 1;
        String[][] units = {{"KIB", "1024"}, {"MIB", "1048576"}, {"GIB", "1073741824"}, {"TIB", "1099511627776"},
                {"KB", "1000"}, {"MB", "1000000"}, {"GB", "1000000000"}, {"TB", "1000000000000"}, {"B", "1"}};
        for (String[] u : units) {
            if (s.endsWith(u[0])) {
                unit = Long.parseLong(u[1]);
                s = s.substring(0, s.length() - u[0].length()).trim();
                break;
            }
        }
        double v;
        try {
            v = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: '" + text + "' (examples: 5GB, 500MB, 2GiB)");
        }
        if (!(v > 0) || v * unit > Long.MAX_VALUE / 2) {
            throw new IllegalArgumentException("size out of range: '" + text + "'");
        }
        return (long) Math.ceil(v * unit);
    }
}
