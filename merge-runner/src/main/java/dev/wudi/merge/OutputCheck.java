package dev.wudi.merge;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.CheckpointWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Where a merge may write: never over, into or around an input, and over an existing output only with --force. */
final class OutputCheck {

    private OutputCheck() {
    }

    /** --out may not be an input, lie inside one, or hold one; an existing one needs --force. */
    static void check(MergeOptions options, Checkpoint base, List<Checkpoint> models) throws IOException {
        Path out = options.out().toAbsolutePath().normalize();
        List<Path> inputs = new ArrayList<>();
        inputs.add(base.path());
        models.forEach(m -> inputs.add(m.path()));
        // the output, its partial and its journal, with symbolic links in existing folders resolved
        List<Path> written = List.of(real(out), real(CheckpointWriter.partialPath(out)),
                real(CheckpointWriter.journalPath(out)));
        for (Path in : inputs) {
            Path p = real(in.toAbsolutePath().normalize());
            for (Path w : written) {
                if (w.equals(p) || w.startsWith(p) || p.startsWith(w)) {
                    throw new dev.wudi.checkpoint.UsageMistakeException("--out " + options.out() + " overlaps the input " + in
                            + "; choose another output path (inputs are never modified)");
                }
            }
        }
        if (!base.isFolder() && options.asAdapter() == null && Files.isDirectory(out)) {
            throw new dev.wudi.checkpoint.UsageMistakeException("--out " + options.out() + " is a folder, but the base is a single file;"
                    + " give a file name such as merged.safetensors");
        }
        String outName = out.getFileName() == null ? "" : out.getFileName().toString();
        if ((base.isFolder() || options.asAdapter() != null) && outName.endsWith(".safetensors")
                && !Files.isDirectory(out)) {
            throw new dev.wudi.checkpoint.UsageMistakeException("--out " + options.out() + " is named like a file, but"
                    + " the output is a folder (the base " + base.path() + " is one" + (options.asAdapter() != null
                    ? ", and an adapter is" : "") + "); give a folder name");
        }
        if (Files.exists(out) && !options.force()) {
            boolean emptyDir = false;
            if (Files.isDirectory(out)) {
                try (Stream<Path> s = Files.list(out)) {
                    emptyDir = s.findAny().isEmpty();
                }
            }
            if (!emptyDir) {
                throw new dev.wudi.checkpoint.UsageMistakeException("--out " + options.out()
                        + " already exists; pass --force to replace it");
            }
        }
    }

    /** p with its longest existing prefix resolved through symbolic links (p itself need not exist). */
    private static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs));
        } catch (IOException e) {
            return abs;
        }
    }
}
