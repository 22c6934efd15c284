package dev.wudi.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Finds a CUDA library (cuBLAS, cuSOLVER) at run time, by file name. Search order:
 * <ol>
 *   <li>a system property, then an environment variable, naming the file itself; if set and the file is
 *       missing that is an error, never a silent fallback;</li>
 *   <li>the loader path: LD_LIBRARY_PATH entries;</li>
 *   <li>the CUDA toolkit: $CUDA_HOME/lib64, $CUDA_PATH/lib64, /usr/local/cuda/lib64, /usr/local/cuda-N/lib64
 *       (newest first);</li>
 *   <li>the system library folders /usr/lib/x86_64-linux-gnu, /usr/lib64, /usr/lib;</li>
 *   <li>Python's NVIDIA wheels: nvidia/STAR/lib under each PYTHONPATH entry, $VIRTUAL_ENV, $CONDA_PREFIX,
 *       /usr/lib/python3.STAR, /usr/local/lib/python3.STAR, ~/.local/lib/python3.STAR, ~/.pyenv/versions/STAR and
 *       /opt/STAR/.venv (site-packages and dist-packages);</li>
 *   <li>finally the bare first name, which dlopen resolves through the ldconfig cache.</li>
 * </ol>
 * In each folder the names are tried in order. All absolute paths are resolved under a root folder, so tests
 * can build a fake file system in a temporary folder.
 */
public abstract class LibraryLocator {

    private final String property;
    private final String envVar;
    private final List<String> names;
    private final String example;
    private final String installHint;
    private final Path root;
    private final Map<String, String> env;
    private final Properties properties;
    private final Path home;

    protected LibraryLocator(String property, String envVar, List<String> names, String example, String installHint,
                             Path root, Map<String, String> env, Properties properties, Path home) {
        this.property = property;
        this.envVar = envVar;
        this.names = List.copyOf(names);
        this.example = example;
        this.installHint = installHint;
        this.root = root;
        this.env = env;
        this.properties = properties;
        this.home = home;
    }

    /** The user's home folder of this process. */
    protected static Path userHome() {
        return Path.of(System.getProperty("user.home", "/root"));
    }

    /** How to install the library, for messages ("Install cuBLAS (...)"). */
    public String installHint() {
        return installHint;
    }

    /** The file names tried in each folder, preferred first. */
    public List<String> names() {
        return names;
    }

    /** Where the library was found: a file, or a bare name left to dlopen; and how. */
    public record Location(String library, String how) {
        /** True if {@link #library()} is a path to an existing file rather than a bare name. */
        public boolean isFile() {
            return library.contains("/");
        }
    }

    /**
     * The first existing candidate, or a bare-name fallback ({@code isFile() == false}).
     *
     * @throws IllegalStateException if the system property or the environment variable names a file that does not exist
     */
    public Location locate() {
        Location explicit = explicit();
        if (explicit != null) {
            return explicit;
        }
        for (Path dir : searchFolders()) {
            for (String name : names) {
                Path f = dir.resolve(name);
                if (Files.isRegularFile(f)) {
                    return new Location(f.toString(), "found in " + dir);
                }
            }
        }
        return new Location(names.get(0), "not found in " + searchFolders().size()
                + " folders; left to the dynamic loader");
    }

    private Location explicit() {
        String fromProperty = properties.getProperty(property);
        String fromEnv = env.get(envVar);
        String value = fromProperty != null && !fromProperty.isBlank() ? fromProperty : fromEnv;
        if (value == null || value.isBlank()) {
            return null;
        }
        String source = value == fromProperty ? "-D" + property : envVar;
        if (!Files.isRegularFile(Path.of(value))) {
            throw new IllegalStateException(source + "=" + value + " names no file. Point it at "
                    + String.join(" or ", names) + " (e.g. " + example + "), or unset it to search the usual places");
        }
        return new Location(value, "named by " + source);
    }

    /** The folders searched, in order (existing or not), after the explicit setting. */
    public List<Path> searchFolders() {
        List<Path> dirs = new ArrayList<>();
        for (String entry : split(env.get("LD_LIBRARY_PATH"))) {
            dirs.add(Path.of(entry));
        }
        for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
            String v = env.get(var);
            if (v != null && !v.isBlank()) {
                dirs.add(Path.of(v, "lib64"));
            }
        }
        dirs.add(under("/usr/local/cuda/lib64"));
        List<Path> versioned = glob(under("/usr/local"), "cuda-*");
        versioned.sort((a, b) -> b.getFileName().toString().compareTo(a.getFileName().toString()));
        for (Path p : versioned) {
            dirs.add(p.resolve("lib64"));
        }
        dirs.add(under("/usr/lib/x86_64-linux-gnu"));
        dirs.add(under("/usr/lib64"));
        dirs.add(under("/usr/lib"));
        for (Path site : sitePackages()) {
            for (Path pkg : glob(site.resolve("nvidia"), "*")) {
                dirs.add(pkg.resolve("lib"));
            }
        }
        return dirs;
    }

    private List<Path> sitePackages() {
        List<Path> sites = new ArrayList<>();
        for (String entry : split(env.get("PYTHONPATH"))) {
            sites.add(Path.of(entry));
        }
        for (String var : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String v = env.get(var);
            if (v != null && !v.isBlank()) {
                pythonLibs(Path.of(v, "lib"), sites);
            }
        }
        pythonLibs(under("/usr/lib"), sites);
        pythonLibs(under("/usr/local/lib"), sites);
        pythonLibs(home.resolve(".local/lib"), sites);
        for (Path version : glob(home.resolve(".pyenv/versions"), "*")) {
            pythonLibs(version.resolve("lib"), sites);
        }
        for (Path venv : glob(under("/opt"), "*")) {
            pythonLibs(venv.resolve(".venv/lib"), sites);
        }
        return sites;
    }

    private static void pythonLibs(Path lib, List<Path> out) {
        for (Path py : glob(lib, "python3*")) {
            out.add(py.resolve("site-packages"));
            out.add(py.resolve("dist-packages"));
        }
    }

    private Path under(String absolute) {
        return root.resolve(absolute.substring(1));
    }

    private static List<String> split(String pathList) {
        List<String> out = new ArrayList<>();
        if (pathList != null) {
            for (String s : pathList.split(":")) {
                if (!s.isBlank()) {
                    out.add(s);
                }
            }
        }
        return out;
    }

    /** Children of {@code dir} matching {@code pattern}, sorted by name; empty if dir is missing. */
    private static List<Path> glob(Path dir, String pattern) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, pattern)) {
            for (Path p : ds) {
                out.add(p);
            }
        } catch (IOException e) {
            return out;   // an unreadable folder just holds no candidates
        }
        out.sort(null);
        return out;
    }
}
