package dev.wudi.spark;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The driver's local copies of remote paths, named back as the user gave them: a merge run on copies must say
 * {@code hdfs://nn/models/ft1}, not the staging folder's {@code /tmp/wudi-spark-.../in-3/ft1}, in its progress and
 * errors, in the report and in the model card (the staging folder is gone when the user reads them).
 */
final class StagedNames {

    /** Local copy -> the remote path given, longest first, so that no name is replaced inside a longer one. */
    private final Map<String, String> names = new LinkedHashMap<>();

    StagedNames(Map<String, String> localToRemote) {
        List<Map.Entry<String, String>> e = new ArrayList<>(localToRemote.entrySet());
        e.sort(Comparator.comparingInt((Map.Entry<String, String> x) -> x.getKey().length()).reversed());
        e.forEach(x -> names.put(x.getKey(), x.getValue()));
    }

    /** The text with every local copy's path replaced by the remote path it stands for. */
    String apply(String text) {
        if (text == null) {
            return null;
        }
        String out = text;
        for (Map.Entry<String, String> e : names.entrySet()) {
            out = out.replace(e.getKey(), e.getValue());
        }
        return out;
    }

    /** Rewrites a text file the merge wrote (model card, report) in place, if it names a local copy. */
    void rewrite(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return;
        }
        String s = Files.readString(file, StandardCharsets.UTF_8);
        String t = apply(s);
        if (!t.equals(s)) {
            Files.writeString(file, t, StandardCharsets.UTF_8);
        }
    }

    /**
     * Rewrites a safetensors file the merge wrote (a task head under heads/, whose metadata names its model) with its
     * metadata renamed, if it names a local copy; the tensors' bytes are copied unchanged.
     */
    void rewriteMetadata(Path file) throws IOException {
        Map<String, String> renamed = new LinkedHashMap<>();
        List<dev.wudi.format.SafetensorsWriter.TensorSpec> specs = new ArrayList<>();
        Path tmp = file.resolveSibling(file.getFileName() + ".renamed");
        try (dev.wudi.format.SafetensorsFile f = dev.wudi.format.SafetensorsFile.open(file)) {
            f.metadata().forEach((k, v) -> renamed.put(k, apply(v)));
            if (renamed.equals(f.metadata())) {
                return;
            }
            f.tensors().forEach(t -> specs.add(new dev.wudi.format.SafetensorsWriter.TensorSpec(t.name(), t.dtype(),
                    t.shape())));
            try (dev.wudi.format.SafetensorsWriter w = dev.wudi.format.SafetensorsWriter.create(tmp, specs, renamed)) {
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(1 << 20);
                for (dev.wudi.format.TensorInfo t : f.tensors()) {
                    for (long at = 0; at < t.byteSize(); ) {
                        buf.clear().limit((int) Math.min(buf.capacity(), t.byteSize() - at));
                        f.readBytes(t, at, buf);
                        buf.flip();
                        at += buf.remaining();
                        w.write(buf);
                    }
                }
                w.finish();
            }
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * The same failure with its message renamed, of a type that keeps its exit code (usage mistakes 2, others 1);
     * the original where nothing was renamed.
     */
    Exception apply(Exception e) {
        String m = e.getMessage();
        if (e instanceof NoSuchFileException x) {
            String f = apply(x.getFile());
            return f.equals(x.getFile()) ? e : new NoSuchFileException(f);
        }
        String t = apply(m);
        if (m == null || t.equals(m)) {
            return e;
        }
        Exception out;
        if (e instanceof dev.wudi.checkpoint.UsageMistakeException) {
            out = new dev.wudi.checkpoint.UsageMistakeException(t);
        } else if (e instanceof dev.wudi.spec.OptionException) {
            out = new dev.wudi.spec.OptionException(t);
        } else if (e instanceof dev.wudi.checkpoint.CheckpointException) {
            out = new dev.wudi.checkpoint.CheckpointException(t);
        } else if (e instanceof IOException) {
            out = new IOException(t);
        } else if (e instanceof IllegalArgumentException) {
            out = new IllegalArgumentException(t);
        } else {
            return e;
        }
        out.initCause(e);
        return out;
    }

    /**
     * A stream that renames local copies in each line (ended by a newline, or by a carriage return as progress frames
     * are) before passing it on; what is left of a line goes on at the next explicit flush. For stdout and stderr.
     */
    PrintStream wrap(PrintStream to) {
        return new PrintStream(new OutputStream() {
            private final ByteArrayOutputStream line = new ByteArrayOutputStream();

            @Override
            public void write(int b) {
                line.write(b);
                if (b == '\n' || b == '\r') {
                    flushLine();
                }
            }

            @Override
            public void flush() {
                flushLine();
                to.flush();
            }

            private void flushLine() {
                if (line.size() > 0) {
                    to.print(apply(line.toString(StandardCharsets.UTF_8)));
                    line.reset();
                }
            }
        }, false, StandardCharsets.UTF_8);      // no flush per write: a path split across writes is renamed whole
    }
}
