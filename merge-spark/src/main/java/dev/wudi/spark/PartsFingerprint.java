package dev.wudi.spark;

import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.SpecText;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;

/**
 * What identifies the merge a part was computed for, so that --resume takes a part exactly when nothing that decides
 * its bytes changed: every setting that decides the output ({@link MergeSpec#settings} of the options whose effect
 * is OUTPUT or FINGERPRINT, as the command line spells them: not where the work runs, what else is written, or the
 * output's name), the seed and a config's per-tensor parameters, and each input as given with the size and
 * modification time of its files (on remote storage too: the remote files', not the driver's copies').
 */
final class PartsFingerprint {

    private PartsFingerprint() {
    }

    static Map<String, String> of(MergeSpec spec, SpecText given, RemoteStorage storage) throws IOException {
        Map<String, String> f = new LinkedHashMap<>();
        spec.settings(MergeOption.Effect.OUTPUT, MergeOption.Effect.FINGERPRINT).forEach((o, v) -> f.put(o.name(), v));
        f.put("seed", String.valueOf(spec.parameters().seed()));
        if (spec.config() != null) {
            f.put("config", spec.config().normalizedYaml());   // the per-tensor parameters too
        }
        // the inputs as the user gave them (a config's as it names them)
        String base = given.config() != null ? (spec.base() == null ? null : spec.base().toString()) : given.base();
        List<String> models = new ArrayList<>(given.models());
        if (given.config() != null) {
            spec.models().forEach(m -> models.add(m.toString()));
        }
        if (base != null) {
            f.put("base", stamp(base, storage));
        }
        for (int i = 0; i < models.size(); i++) {
            f.put("model " + (i + 1), stamp(models.get(i), storage));
        }
        return f;
    }

    /** The input's place, and each of its files' size and modification time (a folder's files by name). */
    private static String stamp(String input, RemoteStorage storage) throws IOException {
        // a local path as a URI: Hadoop's Path would read a colon in a file name as a scheme
        org.apache.hadoop.fs.Path p = RemoteStorage.isRemote(input) ? new org.apache.hadoop.fs.Path(input)
                : new org.apache.hadoop.fs.Path(Path.of(input).toAbsolutePath().normalize().toUri());
        FileSystem fs = storage.fs(p);
        String place = fs.makeQualified(p).toString();
        FileStatus st;
        try {
            st = fs.getFileStatus(p);
        } catch (FileNotFoundException e) {
            return place;                                   // not a path as such (MODEL+LORA): its name alone
        }
        if (st.isFile()) {
            return place + " (" + size(st) + ")";
        }
        FileStatus[] files = fs.listStatus(p);
        Arrays.sort(files, Comparator.comparing(s -> s.getPath().getName()));
        List<String> each = new ArrayList<>();
        for (FileStatus c : files) {
            if (c.isFile()) {
                each.add(c.getPath().getName() + " (" + size(c) + ")");
            }
        }
        return place + ": " + String.join(", ", each);
    }

    private static String size(FileStatus s) {
        return s.getLen() + " bytes, modified " + s.getModificationTime();
    }

    /** "key: recorded then, now now" for every field that differs. */
    static List<String> differences(Map<String, String> then, Map<String, String> now) {
        List<String> out = new ArrayList<>();
        TreeSet<String> keys = new TreeSet<>(then.keySet());
        keys.addAll(now.keySet());
        for (String k : keys) {
            String a = then.getOrDefault(k, "(none)");
            String b = now.getOrDefault(k, "(none)");
            if (!a.equals(b)) {
                out.add(k + ": " + a + " then, " + b + " now");
            }
        }
        return out;
    }
}
