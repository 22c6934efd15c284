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
 * Finds libcublas.so.13 or libcublas.so.12 at run time. JCublas2 cannot be used: it is linked against
 * libcublas.so.12, and GPU machines with only CUDA 13 have no such file. Search order:
 * <ol>
 *   <li>the system property {@value #PROPERTY}, then the environment variable {@value #ENV}, naming the
 *       file itself; if set and the file is missing that is an error, never a silent fallback;</li>
 *   <li>the loader path: LD_LIBRARY_PATH entries;</li>
 *   <li>the CUDA toolkit: $CUDA_HOME/lib64, $CUDA_PATH/lib64, /usr/local/cuda/lib64, /usr/local/cuda-N/lib64
 *       (newest first);</li>
 *   <li>the system library folders /usr/lib/x86_64-linux-gnu, /usr/lib64, /usr/lib;</li>
 *   <li>Python's NVIDIA wheels (nvidia-cublas-cu12, nvidia-cublas): nvidia/STAR/lib under each PYTHONPATH
 *       entry, $VIRTUAL_ENV, $CONDA_PREFIX, /usr/lib/python3.STAR, /usr/local/lib/python3.STAR,
 *       ~/.local/lib/python3.STAR, ~/.pyenv/versions/STAR and /opt/STAR/.venv (site-packages and dist-packages);</li>
 *   <li>finally the bare name, which dlopen resolves through the ldconfig cache.</li>
 * </ol>
 * In each folder libcublas.so.13 is tried before libcublas.so.12. All absolute paths are resolved under
 * a root folder, so tests can build a fake file system in a temporary folder.
 */
public final class CublasLocator {

    public static final String PROPERTY = "wudi.cublas";
    public static final String ENV = "WUDI_CUBLAS";
    public static final List<String> NAMES = List.of("libcublas.so.13", "libcublas.so.12");

    private final Path root;
    private final Map<String, String> env;
    private final Properties properties;
    private final Path home;

    public CublasLocator(Path root, Map<String, String> env, Properties properties, Path home) {
        this.root = root;
        this.env = env;
        this.properties = properties;
        this.home = home;
    }

    /** The locator of this process: the real file system, environment and system properties. */
    public static CublasLocator system() {
        return new CublasLocator(Path.of("/"), System.getenv(), System.getProperties(),
                Path.of(System.getProperty("user.home", "/root")));
    }

    /** Where cuBLAS was found: a file, or a bare name left to dlopen; and how. */
    public record Location(String library, String how) {
        /** True if {@link #library()} is a path to an existing file rather than a bare name. */
        public boolean isFile() {
            return library.contains("/");
        }
    }

    /**
     * The first existing candidate, or a bare-name fallback ({@code isFile() == false}).
     *
     * @throws IllegalStateException if {@value #PROPERTY} or {@value #ENV} names a file that does not exist
     */
    public Location locate() {
        Location explicit = explicit();
        if (explicit != null) {
            return explicit;
        }
        for (Path dir : searchFolders()) {
            for (String name : NAMES) {
                Path f = dir.resolve(name);
                if (Files.isRegularFile(f)) {
                    return new Location(f.toString(), "found in " + dir);
                }
            }
        }
        return new Location(NAMES.get(0), "not found in " + searchFolders().size()
                + " folders; left to the dynamic loader");
    }

    private Location explicit() {
        String fromProperty = properties.getProperty(PROPERTY);
        String fromEnv = env.get(ENV);
        String value = fromProperty != null && !fromProperty.isBlank() ? fromProperty : fromEnv;
        if (value == null || value.isBlank()) {
            return null;
        }
        String source = value == fromProperty ? "-D" + PROPERTY : ENV;
        if (!Files.isRegularFile(Path.of(value))) {
            throw new IllegalStateException(source + "=" + value + " names no file. Point it at libcublas.so.13 or "
                    + "libcublas.so.12 (e.g. /usr/local/cuda/lib64/libcublas.so.13), or unset it to search the usual places");
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
