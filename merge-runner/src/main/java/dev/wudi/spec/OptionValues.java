package dev.wudi.spec;

import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralFilter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The options given to a merge, read as values: each text parsed by its option's rule, a bad one refused with an
 * {@link OptionException} that names the option and the text as given, numbers checked against their
 * {@link ParameterRange}. {@link MergeSpec} builds its typed view with it.
 */
final class OptionValues {

    private final Map<MergeOption, List<String>> given;

    OptionValues(Map<MergeOption, List<String>> given) {
        this.given = given;
    }

    String text(MergeOption o) {
        List<String> v = given.get(o);
        return v == null || v.isEmpty() ? null : v.get(v.size() - 1);
    }

    boolean flag(MergeOption o) {
        String v = text(o);
        return v != null && !v.equals("false");
    }

    interface Parser<T> {
        T parse(String text);
    }

    /** The given value of o parsed, or null where it was not given; a bad value names the option. */
    <T> T parse(MergeOption o, Parser<T> p) {
        String t = text(o);
        return t == null ? null : parseValue(o, t, p);
    }

    static <T> T parseValue(MergeOption o, String t, Parser<T> p) {
        try {
            return p.parse(t);
        } catch (OptionException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            String m = e.getMessage() == null ? "" : e.getMessage();
            throw new OptionException(m.contains(o.name()) ? m : o.name() + " " + t + ": " + m);
        }
    }

    Double number(MergeOption o, ParameterRange range) {
        String t = text(o);
        if (t == null) {
            return null;
        }
        double v = parseValue(o, t, OptionValues::parseDouble);
        String problem = range.problem(v);
        if (problem != null) {
            throw new OptionException(o.name() + " " + problem + ", got " + t);
        }
        return v;
    }

    float floatOf(MergeOption o, float otherwise) {
        String t = text(o);
        return t == null ? otherwise : parseValue(o, t, s -> (float) parseDouble(s));
    }

    int intOf(MergeOption o, int otherwise) {
        String t = text(o);
        return t == null ? otherwise : parseValue(o, t, s -> count(o, s, Integer.MIN_VALUE));
    }

    static double parseDouble(String s) {
        try {
            return Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not a number");
        }
    }

    static long parseLong(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not an integer");
        }
    }

    static int count(MergeOption o, String s, int min) {
        long v;
        try {
            v = Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not an integer");
        }
        if (v < min || v > Integer.MAX_VALUE) {
            throw new OptionException(o.name() + " must be " + (min == Integer.MIN_VALUE ? "an integer"
                    : min == 0 ? "an integer >= 0" : "an integer >= " + min) + " up to " + Integer.MAX_VALUE
                    + ", got " + s);
        }
        return (int) v;
    }

    static float parseLr(String s) {
        try {
            return Float.parseFloat(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--lr " + s + " is neither a number nor auto / auto:FACTOR");
        }
    }

    static Pattern regex(String s) {
        try {
            return Pattern.compile(s);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("invalid regular expression '" + s + "': " + e.getDescription());
        }
    }

    static String progress(String s) {
        if (!s.equals("auto") && !s.equals("json")) {
            throw new OptionException("--progress takes auto or json, not " + s);
        }
        return s;
    }

    /** --solver as given (lower case), or adam. */
    String solverName() {
        String t = text(OptionTable.SOLVER);
        return t == null ? "adam" : t.trim().toLowerCase(Locale.ROOT);
    }

    /** The solver --solver and its options name, Adam with these settings. */
    SolverSpec solverSpec(AdamConfig adam) {
        String name = solverName();
        Double ridge = number(OptionTable.RIDGE, ParameterRange.NON_NEGATIVE);
        Double flowTime = number(OptionTable.FLOW_TIME, ParameterRange.NON_NEGATIVE);
        Double filterParam = number(OptionTable.FILTER_PARAM, ParameterRange.POSITIVE);
        Double cutoff = number(OptionTable.CUTOFF, ParameterRange.POSITIVE);
        Integer rank = parse(OptionTable.RANK, t -> count(OptionTable.RANK, t, 0));
        SpectralFilter.Kind filter = parse(OptionTable.FILTER, SpectralFilter.Kind::parse);
        return parseValue(OptionTable.SOLVER, name, n -> switch (n) {
            case "adam" -> new SolverSpec.Adam(adam);
            case "exact" -> new SolverSpec.Exact(ridge == null ? 0 : ridge);
            case "flow" -> flowTime == null && cutoff != null
                    ? new SolverSpec.Spectral(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0, cutoff)
                    : new SolverSpec.Flow(flowTime == null ? Double.NaN : flowTime);
            case "spectral" -> new SolverSpec.Spectral(filter == null ? SpectralFilter.Kind.EXPONENTIAL : filter,
                    filterParam == null ? Double.NaN : filterParam, rank == null ? 0 : rank,
                    cutoff == null ? Double.NaN : cutoff);
            default -> throw new IllegalArgumentException("unknown --solver '" + n + "' (choose from adam, exact,"
                    + " flow, spectral)");
        });
    }
}
