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

    @picocli.CommandLine.Option(names = "--json", description = "One JSON document: every method with its parameters.")
    boolean json;

    @Override
    public Integer call() {
        if (json) {
            System.out.println(json());
            return 0;
        }
        for (MergeMethod m : MergeMethods.all()) {
            System.out.printf(Locale.ROOT, "%s%s: %s%n", m.name(), m == MergeMethods.WUDI ? " (default)" : "", m.summary());
            System.out.printf(Locale.ROOT, "  reference: %s%n", m.reference());
            System.out.printf(Locale.ROOT, "  default scope: %s%n",
                    m.defaultScope() == MergeMethod.Scope.LINEAR_WEIGHTS
                            ? "2-D floating weights except embeddings and heads" : "every floating tensor");
            for (MethodParam p : m.params()) {
                System.out.printf(Locale.ROOT, "  --%s (%s): %s%n", p.name(), Double.isNaN(p.defaultValue()) ? "required"
                        : "default " + fmt(p.defaultValue()), p.description());
            }
        }
        return 0;
    }

    /** {"schema":1,"methods":[{"name","default","summary","reference","scope","params":[{name,default,description}]}]}. */
    static String json() {
        com.fasterxml.jackson.databind.ObjectMapper mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode root = mapper.createObjectNode().put("schema", JsonProgress.SCHEMA);
        com.fasterxml.jackson.databind.node.ArrayNode arr = root.putArray("methods");
        for (MergeMethod m : MergeMethods.all()) {
            com.fasterxml.jackson.databind.node.ObjectNode n = arr.addObject().put("name", m.name())
                    .put("default", m == MergeMethods.WUDI).put("summary", m.summary()).put("reference", m.reference())
                    .put("scope", m.defaultScope() == MergeMethod.Scope.LINEAR_WEIGHTS ? "linear-weights" : "all-floating");
            com.fasterxml.jackson.databind.node.ArrayNode ps = n.putArray("params");
            for (MethodParam p : m.params()) {
                ps.addObject().put("name", p.name()).put("default", p.defaultValue()).put("description", p.description());
            }
        }
        return root.toPrettyString();
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e6 ? Long.toString((long) v) : Double.toString(v);
    }
}
