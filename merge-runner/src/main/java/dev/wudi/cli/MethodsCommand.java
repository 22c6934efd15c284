package dev.wudi.cli;

import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.method.MethodParam;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "methods", mixinStandardHelpOptions = true,
        description = "List the merge methods with their references and parameters.")
public final class MethodsCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        for (MergeMethod m : MergeMethods.all()) {
            System.out.printf(Locale.ROOT, "%s%s: %s%n", m.name(), m == MergeMethods.WUDI ? " (default)" : "", m.summary());
            System.out.printf(Locale.ROOT, "  reference: %s%n", m.reference());
            System.out.printf(Locale.ROOT, "  default scope: %s%n",
                    m.defaultScope() == MergeMethod.Scope.LINEAR_WEIGHTS
                            ? "2-D floating weights except embeddings and heads" : "every floating tensor");
            for (MethodParam p : m.params()) {
                System.out.printf(Locale.ROOT, "  --%s (default %s): %s%n", p.name(), fmt(p.defaultValue()), p.description());
            }
        }
        return 0;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e6 ? Long.toString((long) v) : Double.toString(v);
    }
}
