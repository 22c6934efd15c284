package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.RestPolicy;
import dev.wudi.method.MergeMethods;
import dev.wudi.model.LayoutOverride;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralFilter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The `wudi merge` command line that reproduces a merge from its options, every option that changes the output
 * written out (defaults too, so that a later default change cannot alter what the command means). Used by the
 * model card and the reports where the merge did not come from the command line (the Java API).
 */
public final class ReproduceCommand {

    private ReproduceCommand() {
    }

    public static String of(MergeSpec o) {
        List<String> a = new ArrayList<>();
        a.add("wudi");
        a.add("merge");
        if (o.base() != null) {
            a.add("--base");
            a.add(path(o.base()));
        }
        for (Path m : o.models()) {
            a.add("--model");
            a.add(path(m));
        }
        a.add("--out");
        a.add(path(o.out()));
        a.add("--method");
        a.add(o.method().name());
        if (o.method() == MergeMethods.WUDI) {
            SolverSpec s = o.effectiveSolver();
            a.add("--solver");
            a.add(s.name());
            if (s instanceof SolverSpec.Adam adam) {
                a.add("--lr");
                a.add(o.autoLr() != null ? "auto:" + o.autoLr().factor() : String.valueOf(adam.config().lr()));
                a.add("--iters");
                a.add(String.valueOf(adam.config().iterations()));
                a.add("--beta1");
                a.add(String.valueOf(adam.config().beta1()));
                a.add("--beta2");
                a.add(String.valueOf(adam.config().beta2()));
                a.add("--eps");
                a.add(String.valueOf(adam.config().eps()));
            } else if (s instanceof SolverSpec.Exact e) {
                a.add("--ridge");
                a.add(String.valueOf(e.ridge()));
            } else if (s instanceof SolverSpec.Flow f && !Double.isNaN(f.time())) {
                a.add("--flow-time");
                a.add(String.valueOf(f.time()));
            } else if (s instanceof SolverSpec.Spectral sp) {
                if (sp.kind() != SpectralFilter.Kind.EXPONENTIAL || !Double.isNaN(sp.param()) || sp.rank() > 0) {
                    a.add("--filter");
                    a.add(sp.kind().label());
                }
                if (!Double.isNaN(sp.param())) {
                    a.add("--filter-param");
                    a.add(String.valueOf(sp.param()));
                }
                if (!Double.isNaN(sp.cutoff())) {
                    a.add("--cutoff");
                    a.add(String.valueOf(sp.cutoff()));
                }
                if (sp.rank() > 0) {
                    a.add("--rank");
                    a.add(String.valueOf(sp.rank()));
                }
            }
        }
        if (o.method().hasParam("scale") || (o.rest() == RestPolicy.TASK_ARITHMETIC)) {
            a.add("--scale");
            a.add(String.valueOf(o.effectiveScale()));
        }
        if (o.method().hasParam("density")) {
            a.add("--density");
            a.add(String.valueOf(o.effectiveDensity()));
        }
        if (o.include() != null) {
            a.add("--include");
            a.add(o.include().pattern());
        }
        if (o.exclude() != null) {
            a.add("--exclude");
            a.add(o.exclude().pattern());
        }
        a.add("--rest");
        a.add(o.rest().cliName());
        for (LayoutOverride l : o.layouts()) {
            a.add("--layout");
            a.add(l.toString());
        }
        a.add("--heads");
        a.add(o.heads().cliName());
        a.add("--vocab");
        a.add(o.vocab().cliName());
        if (o.outDType() != null) {
            a.add("--dtype");
            a.add(o.outDType().name().toLowerCase(java.util.Locale.ROOT));
        }
        if (o.parameters().seed() != 0) {
            a.add("--seed");
            a.add(String.valueOf(o.parameters().seed()));
        }
        if (o.asAdapter() != null) {
            a.add("--as-adapter");
            if (o.asAdapter().rank() > 0) {
                a.add("--adapter-rank");
                a.add(String.valueOf(o.asAdapter().rank()));
            }
        }
        List<String> quoted = new ArrayList<>();
        a.forEach(x -> quoted.add(quote(x)));
        return String.join(" ", quoted);
    }

    private static String path(Path p) {
        return p.toString();
    }

    /** Single-quotes an argument for a POSIX shell where it holds anything but safe characters. */
    public static String quote(String s) {
        if (!s.isEmpty() && s.matches("[A-Za-z0-9_./:=+@%,-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
