package dev.wudi.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The options of a merge command line that name files or folders, and the same command line with some of their
 * values replaced: a command given remote paths (hdfs://, s3a://) runs on local copies of them, in the driver and in
 * each task.
 */
final class PathArgs {

    /** Options whose value is a path, in either spelling: {@code --model X} or {@code --model=X}. */
    static final Set<String> OPTIONS = Set.of("--base", "--model", "--out", "--config", "--report", "--report-html",
            "--parts-dir", "--staging-dir");

    /** The inputs among them. */
    static final Set<String> INPUTS = Set.of("--base", "--model");

    /**
     * One path value.
     *
     * @param index  the position in the command line of the word that holds the value
     * @param inline whether it is written {@code --option=value} (the word holds both)
     */
    record Arg(int index, String option, String value, boolean inline) {
    }

    private PathArgs() {
    }

    static List<Arg> of(List<String> args) {
        List<Arg> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0 && OPTIONS.contains(a.substring(0, eq))) {
                out.add(new Arg(i, a.substring(0, eq), a.substring(eq + 1), true));
            } else if (OPTIONS.contains(a) && i + 1 < args.size()) {
                out.add(new Arg(i + 1, a, args.get(i + 1), false));
                i++;
            }
        }
        return out;
    }

    /** The command line with the values of the given args (by {@link Arg#index}) replaced, each in its spelling. */
    static List<String> replaced(List<String> args, Map<Arg, String> values) {
        List<String> out = new ArrayList<>(args);
        values.forEach((a, v) -> out.set(a.index(), a.inline() ? a.option() + "=" + v : v));
        return out;
    }
}
