package dev.wudi.merge;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.format.TensorInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checks, before any tensor is merged, that the models fit together: the same tensor names everywhere,
 * the same shapes, and dtypes that are both floating or exactly equal. Messages name the tensor and
 * both files.
 */
final class Preflight {

    private static final int LIST_AT_MOST = 8;

    private Preflight() {
    }

    static List<String> check(Checkpoint base, List<Checkpoint> models) {
        List<String> warnings = new ArrayList<>();
        Set<String> baseNames = new TreeSet<>(base.names());
        for (Checkpoint m : models) {
            Set<String> names = new TreeSet<>(m.names());
            Set<String> missing = new TreeSet<>(baseNames);
            missing.removeAll(names);
            Set<String> extra = new TreeSet<>(names);
            extra.removeAll(baseNames);
            if (!missing.isEmpty() || !extra.isEmpty()) {
                StringBuilder sb = new StringBuilder();
                sb.append(m.path()).append(" does not have the same tensors as the base ").append(base.path());
                if (!missing.isEmpty()) {
                    sb.append("; missing ").append(missing.size()).append(": ").append(first(missing));
                }
                if (!extra.isEmpty()) {
                    sb.append("; extra ").append(extra.size()).append(": ").append(first(extra));
                }
                throw new CheckpointException(sb.toString());
            }
            for (String name : base.names()) {
                TensorInfo b = base.tensor(name).info();
                TensorInfo t = m.tensor(name).info();
                if (!b.sameShape(t)) {
                    throw new CheckpointException("tensor " + name + " has shape " + b.shapeString() + " in "
                            + base.tensor(name).path() + " but " + t.shapeString() + " in " + m.tensor(name).path());
                }
                boolean compatible = b.dtype() == t.dtype() || (b.dtype().mergeable() && t.dtype().mergeable());
                if (!compatible) {
                    throw new CheckpointException("tensor " + name + " has dtype " + b.dtype() + " in "
                            + base.tensor(name).path() + " but " + t.dtype() + " in " + m.tensor(name).path());
                }
            }
            // a model equal to the base (by path or by content) is warned about by InputScan
        }
        return warnings;
    }

    private static String first(Set<String> names) {
        List<String> l = new ArrayList<>(names);
        String s = String.join(", ", l.subList(0, Math.min(LIST_AT_MOST, l.size())));
        return l.size() > LIST_AT_MOST ? s + ", ..." : s;
    }
}
