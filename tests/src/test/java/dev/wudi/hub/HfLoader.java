package dev.wudi.hub;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs tests/loader/hf_load.py, the loading check written without transformers, PEFT, torch or numpy (python3's
 * standard library only): whether transformers would load a model folder as the class its config.json names, a saved
 * head with it, or PEFT a LoRA adapter on its base, every missing, unexpected or misshapen key named.
 */
public final class HfLoader {

    /** Why a loading check did not run, in the words the build prints. */
    public static final String ABSENT = "the loading checks run tests/loader/hf_load.py with python3, which is not on"
            + " the PATH";

    private HfLoader() {
    }

    public record Result(int exit, String out) {
        @Override
        public String toString() {
            return "exit " + exit + "\n" + out;
        }
    }

    /** The script, from the tests module (Maven's working directory) or the repository root (an IDE's). */
    static Path script() {
        for (Path p : List.of(Path.of("loader", "hf_load.py"), Path.of("tests", "loader", "hf_load.py"))) {
            if (Files.isRegularFile(p)) {
                return p.toAbsolutePath();
            }
        }
        throw new IllegalStateException("tests/loader/hf_load.py not found from " + Path.of("").toAbsolutePath());
    }

    /** python3 on the PATH, or null. */
    static String python() {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Path.of(dir, "python3");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /** The loader's answer for a folder and its options; the calling test is skipped where python3 is absent. */
    public static Result run(Path folder, String... options) throws IOException, InterruptedException {
        String python = python();
        assumeTrue(python != null, ABSENT);
        List<String> cmd = new ArrayList<>(List.of(python, script().toString(), folder.toString()));
        cmd.addAll(List.of(options));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("hf_load.py did not finish in 60 s: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** As run, failing the test with the loader's every line unless the folder loads. */
    public static String loads(Path folder, String... options) throws IOException, InterruptedException {
        Result r = run(folder, options);
        if (r.exit() != 0) {
            throw new AssertionError("transformers/PEFT would not load " + folder + ":\n" + r.out());
        }
        return r.out();
    }
}
