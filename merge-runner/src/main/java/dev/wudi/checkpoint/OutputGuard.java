package dev.wudi.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.format.FileKinds;
import dev.wudi.format.SafetensorsFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Every path a merge writes, checked in one place before anything is read or written, so that nothing the user owns
 * is ever destroyed: a written path is never an input (files, folders, the config, adapter folders; symbolic links
 * resolved), never another written path, never the working directory or a folder above it, never a FIFO, device or
 * socket, and never an empty path. An existing path needs --force, and --force replaces only what is plainly an
 * earlier output of the same kind: a safetensors file, a folder holding only what a checkpoint folder holds, a wudi
 * report. Anything else is refused with a line saying what is there.
 */
public final class OutputGuard {

    /** What is written at a path, which decides what may be replaced there. */
    public enum Kind {
        /** One .safetensors file. */
        CHECKPOINT_FILE(false, "checkpoint"),
        /** A Hugging Face model folder, or a PEFT adapter folder. */
        CHECKPOINT_FOLDER(true, "checkpoint folder"),
        /** The JSON report. */
        REPORT_JSON(false, "JSON report"),
        /** The HTML report. */
        REPORT_HTML(false, "HTML report"),
        /** A chart (PNG). */
        CHART_PNG(false, "PNG chart"),
        /** A folder the tool adds its own files to and removes only those from (parts of a distributed merge). */
        WORK_FOLDER(true, "work folder");

        final boolean folder;
        final String noun;

        Kind(boolean folder, String noun) {
            this.folder = folder;
            this.noun = noun;
        }
    }

    /**
     * A path written, named by the option that gives it.
     *
     * @param companions file names the output copies from the base besides those {@link #isOutputEntry} knows
     *                   (a base's LICENSE, USE_POLICY.md, ...): an earlier output of the same merge holds them too
     */
    public record Target(String option, Path path, Kind kind, Set<String> companions) {
        public Target {
            companions = Set.copyOf(companions);
        }

        public Target(String option, Path path, Kind kind) {
            this(option, path, kind, Set.of());
        }
    }

    /** Files a checkpoint folder written by wudi holds, besides its weights and the base's companion files. */
    private static final Set<String> OUTPUT_FILES = Set.of(Checkpoint.INDEX_FILE, "config.json",
            "generation_config.json", "README.md", "mergekit_config.yml", "adapter_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt",
            "vocab.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "chat_template.jinja",
            "chat_template.json");

    /** The folder of task heads a folder output may hold. */
    private static final String HEADS = "heads";
    private static final java.util.regex.Pattern HEAD_FILES =
            java.util.regex.Pattern.compile(".+\\.safetensors|model-\\d+\\.config\\.json|README\\.md");

    private static final ObjectMapper JSON = new ObjectMapper();

    private OutputGuard() {
    }

    /**
     * Refuses (a {@link UsageMistakeException}, one line) any target that would overwrite or delete something it must
     * not. Inputs that do not exist are skipped (their own check names them).
     *
     * @param inputs every path the merge reads: checkpoint files and folders, adapter folders, the config file
     * @param force  replace an existing target where it is plainly an earlier output of its kind
     */
    public static void check(List<Target> targets, List<Path> inputs, boolean force) throws IOException {
        for (Target t : targets) {
            if (t.path().toString().isEmpty()) {
                throw new UsageMistakeException(t.option() + " is empty; give a path");
            }
        }
        List<Path> read = readPaths(inputs);
        Path cwd = real(Path.of("").toAbsolutePath());
        for (int i = 0; i < targets.size(); i++) {
            Target t = targets.get(i);
            Path p = real(t.path());
            if (p.getParent() == null || cwd.startsWith(p)) {
                throw new UsageMistakeException(t.option() + " " + t.path() + " is "
                        + (p.getParent() == null ? "the root folder" : p.equals(cwd) ? "the working directory"
                        : "a folder that holds the working directory") + "; give a new name, such as "
                        + Path.of("merged" + (t.kind().folder ? "" : t.kind() == Kind.CHECKPOINT_FILE
                        ? ".safetensors" : t.kind() == Kind.REPORT_HTML ? ".html" : ".json")));
            }
            for (Path w : writtenBy(t, p)) {
                for (Path in : read) {
                    if (w.equals(in) || w.startsWith(in) || in.startsWith(w)) {
                        throw new UsageMistakeException(t.option() + " " + t.path() + " overlaps the input "
                                + in + "; choose another path (inputs are never modified)");
                    }
                }
            }
            for (int j = 0; j < i; j++) {
                Target o = targets.get(j);
                Path q = real(o.path());
                if (p.equals(q) || p.startsWith(q) || q.startsWith(p)) {
                    throw new UsageMistakeException(t.option() + " " + t.path() + (p.equals(q) ? " is also "
                            : " overlaps ") + o.option() + " " + o.path() + "; give each output its own path, beside"
                            + " the others");
                }
            }
            checkExisting(t, p, force);
        }
    }

    /**
     * The check {@link #check} made of an existing target, made again right before the target is replaced (a long
     * merge gives other programs time to put something there): refuses unless nothing is there or it is still plainly
     * an earlier output.
     */
    public static void checkReplaceable(Target t, boolean force) throws IOException {
        checkExisting(t, real(t.path()), force);
    }

    private static void checkExisting(Target t, Path p, boolean force) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) && !Files.exists(p)) {
            return;
        }
        String kind = FileKinds.describe(p);
        if (!Files.isRegularFile(p) && !Files.isDirectory(p)) {
            throw new UsageMistakeException(t.option() + " " + t.path() + " is " + kind + "; wudi writes only regular"
                    + " files and folders, and replaces nothing else");
        }
        if (t.kind().folder != Files.isDirectory(p)) {
            throw new UsageMistakeException(t.option() + " " + t.path() + " is " + kind + ", but a " + t.kind().noun
                    + " is written there; " + (t.kind().folder ? "give a folder name" : "give a file name"));
        }
        if (t.kind().folder && isEmptyFolder(p)) {
            return;
        }
        if (t.kind() == Kind.WORK_FOLDER) {
            return;                                 // files are added and only those removed
        }
        if (!force) {
            throw new UsageMistakeException(t.option() + " " + t.path() + " already exists; pass --force to replace"
                    + " it");
        }
        String unlike = unlikeAnEarlierOutput(t, p);
        if (unlike != null) {
            throw new UsageMistakeException(t.option() + " " + t.path() + " " + unlike + "; --force replaces only an"
                    + " earlier " + t.kind().noun + ": move it away or choose another " + t.option());
        }
    }

    /** Null where p is plainly an earlier output of t's kind, else what it is instead. */
    private static String unlikeAnEarlierOutput(Target t, Path p) throws IOException {
        switch (t.kind()) {
            case CHECKPOINT_FILE:
                return isSafetensors(p) ? null : "is not a safetensors file (" + FileKinds.describe(p) + ")";
            case REPORT_JSON:
                return isJsonReport(p) ? null : "is not a wudi JSON report (" + FileKinds.describe(p) + ")";
            case REPORT_HTML:
                return isHtmlReport(p) ? null : "is not a wudi HTML report (" + FileKinds.describe(p) + ")";
            case CHART_PNG:
                return isPng(p) ? null : "is not a PNG image (" + FileKinds.describe(p) + ")";
            default:
                return foreignEntries(p, t.companions());
        }
    }

    /**
     * What a folder holds that no checkpoint folder written by wudi holds, as a phrase ("holds notes.txt, photos/"),
     * or null where it is one: weights, index and config, card, tokenizer, a merge config, the given companion files,
     * and heads/ with the heads' safetensors files, their config.json files and README.md in it.
     */
    private static String foreignEntries(Path dir, Set<String> companions) throws IOException {
        List<String> foreign = new ArrayList<>();
        boolean weights = false;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path e : (Iterable<Path>) s.sorted()::iterator) {
                String n = e.getFileName().toString();
                if (Files.isDirectory(e, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    if (!(n.equals(HEADS) && onlyHeads(e))) {
                        foreign.add(n + "/");
                    }
                } else if (!Files.isRegularFile(e, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        && !Files.isSymbolicLink(e)) {
                    foreign.add(n + " (" + FileKinds.describe(e) + ")");
                } else if (n.endsWith(".safetensors")) {
                    weights = true;
                } else if (!OUTPUT_FILES.contains(n) && !companions.contains(n)) {
                    foreign.add(n);
                }
            }
        }
        if (!foreign.isEmpty()) {
            int shown = Math.min(4, foreign.size());
            return "holds " + String.join(", ", foreign.subList(0, shown))
                    + (foreign.size() > shown ? " (and " + (foreign.size() - shown) + " more)" : "")
                    + ", which no wudi output holds";
        }
        return weights ? null : "holds no .safetensors weights, so it is not an earlier output";
    }

    /** heads/ as wudi writes it: model-K.safetensors, model-K.config.json and its README.md, nothing else. */
    private static boolean onlyHeads(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.allMatch(e -> Files.isRegularFile(e, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                    && HEAD_FILES.matcher(e.getFileName().toString()).matches());
        }
    }

    private static boolean isEmptyFolder(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    private static boolean isSafetensors(Path p) {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            return f != null;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** A JSON object with the report's "tensors" and "totals" (what {@code MergeReport} writes). */
    private static boolean isJsonReport(Path p) {
        try {
            if (Files.size(p) > (256L << 20)) {
                return false;
            }
            JsonNode n = JSON.readTree(p.toFile());
            return n != null && n.isObject() && n.path("tensors").isArray() && n.path("totals").isObject();
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** An HTML page whose title says it is a wudi merge report (what {@code ReportPage} writes). */
    private static boolean isHtmlReport(Path p) {
        byte[] head = new byte[512];
        int n;
        try (InputStream in = Files.newInputStream(p)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            return false;
        }
        String s = new String(head, 0, n, StandardCharsets.UTF_8).toLowerCase(Locale.ROOT);
        return s.startsWith("<!doctype html>") && s.contains("<title>wudi merge report");
    }

    /**
     * A folder a command fills with files of its own names (a demo's or a benchmark's checkpoints): refused where it
     * is an empty path, the working directory or above it, not a folder, or holds anything else.
     *
     * @param own the names the command writes there
     */
    public static void checkOwnFolder(String option, Path dir, java.util.function.Predicate<String> own)
            throws IOException {
        Target t = new Target(option, dir, Kind.WORK_FOLDER);
        check(List.of(t), List.of(), false);
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<String> foreign = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.map(e -> e.getFileName().toString()).filter(n -> !own.test(n)).sorted().forEach(foreign::add);
        }
        if (!foreign.isEmpty()) {
            throw new UsageMistakeException(option + " " + dir + " holds " + String.join(", ",
                    foreign.subList(0, Math.min(4, foreign.size()))) + (foreign.size() > 4 ? " (and "
                    + (foreign.size() - 4) + " more)" : "") + ", which this command does not write; give a new or"
                    + " empty folder");
        }
    }

    /** A PNG file: its eight-byte signature. */
    private static boolean isPng(Path p) {
        byte[] sig = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
        byte[] head = new byte[8];
        try (InputStream in = Files.newInputStream(p)) {
            return in.readNBytes(head, 0, 8) == 8 && java.util.Arrays.equals(sig, head);
        } catch (IOException e) {
            return false;
        }
    }

    /** What writing target t at p touches: p, and for a checkpoint its partial output, journal and lock beside it. */
    private static List<Path> writtenBy(Target t, Path p) {
        if (t.kind() != Kind.CHECKPOINT_FILE && t.kind() != Kind.CHECKPOINT_FOLDER) {
            return List.of(p);
        }
        return List.of(p, real(CheckpointWriter.partialPath(p)), real(CheckpointWriter.journalPath(p)),
                real(CheckpointWriter.lockPath(p)));
    }

    /**
     * The inputs as the file system sees them: each path with links resolved, and for a folder each entry in it
     * resolved too (a Hugging Face cache folder's files are links into blobs/ elsewhere).
     */
    private static List<Path> readPaths(List<Path> inputs) throws IOException {
        Set<Path> out = new TreeSet<>();
        for (Path in : inputs) {
            if (in == null || !Files.exists(in)) {
                continue;
            }
            out.add(real(in));
            if (Files.isDirectory(in)) {
                try (Stream<Path> s = Files.list(in)) {
                    s.forEach(e -> out.add(real(e)));
                }
            }
        }
        return new ArrayList<>(out);
    }

    /** p absolute, with its longest existing prefix resolved through symbolic links (p itself need not exist). */
    static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
        } catch (IOException e) {
            return abs;
        }
    }
}
