package dev.wudi.spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The `wudi merge` command line that reproduces a merge from its spec: the inputs and the output, then every option
 * that decides the output ({@link MergeSpec#settings}), defaults written out so that a later change of a default
 * cannot change what the command means. The model card and the reports show it where the merge did not come from the
 * command line (the Java API, a distributed merge's executors).
 */
public final class ReproduceCommand {

    private ReproduceCommand() {
    }

    public static String of(MergeSpec o) {
        List<String> a = new ArrayList<>(List.of("wudi", "merge"));
        if (o.base() != null) {
            a.add(OptionTable.BASE.name());
            a.add(o.base().toString());
        }
        for (Path m : o.models()) {
            a.add(OptionTable.MODEL.name());
            a.add(m.toString());
        }
        a.add(OptionTable.OUT.name());
        a.add(o.out().toString());
        for (Map.Entry<MergeOption, String> e : o.settings(MergeOption.Effect.OUTPUT).entrySet()) {
            MergeOption opt = e.getKey();
            if (opt.flag()) {
                a.add(opt.name());
            } else {
                for (String v : opt.repeatable() ? o.given().get(opt) : List.of(e.getValue())) {
                    a.add(opt.name());
                    a.add(v);
                }
            }
        }
        List<String> quoted = new ArrayList<>();
        a.forEach(x -> quoted.add(quote(x)));
        return String.join(" ", quoted);
    }

    /** Single-quotes an argument for a POSIX shell where it holds anything but safe characters. */
    public static String quote(String s) {
        if (!s.isEmpty() && s.matches("[A-Za-z0-9_./:=+@%,-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
