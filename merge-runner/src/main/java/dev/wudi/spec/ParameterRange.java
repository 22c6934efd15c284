package dev.wudi.spec;

/**
 * The values a numeric setting may take, one rule for every surface that sets it: the command line ({@code --density},
 * {@code --scale}) and a mergekit config (density, lambda, weight, iterations, ...) check a value with the same
 * range where they parse it, so a mistake stops before any tensor is read, with the same words. Reals must also be
 * finite in float32, the precision of all the arithmetic: a weight of 1e39 is Infinity there.
 *
 * @param kind         real, integer (a whole number, written as one), or a flag (true or false)
 * @param min          the smallest value, or the bound it must exceed ({@code minIncluded} false)
 * @param max          the largest value, or the bound it must stay below ({@code maxIncluded} false)
 */
public record ParameterRange(Kind kind, double min, boolean minIncluded, double max, boolean maxIncluded) {

    /** What a setting is. */
    public enum Kind { REAL, INTEGER, FLAG }

    private static final double F = Float.MAX_VALUE;

    /** Any finite number (weights, lambda / --scale, slerp's t). */
    public static final ParameterRange FINITE = new ParameterRange(Kind.REAL, -F, true, F, true);
    /** The fraction of a task vector kept (density / --density). */
    public static final ParameterRange DENSITY = new ParameterRange(Kind.REAL, 0, false, 1, true);
    /** A fraction that may be 0 or 1 (breadcrumbs' gamma). */
    public static final ParameterRange FRACTION = new ParameterRange(Kind.REAL, 0, true, 1, true);
    /** [0, 1): Adam's betas, DELLA's epsilon. */
    public static final ParameterRange BELOW_ONE = new ParameterRange(Kind.REAL, 0, true, 1, false);
    /** A positive number: a learning rate, a filter's parameter, a cutoff. */
    public static final ParameterRange POSITIVE = new ParameterRange(Kind.REAL, 0, false, F, true);
    /** Zero or more: Adam's eps, a ridge, a flow time. */
    public static final ParameterRange NON_NEGATIVE = new ParameterRange(Kind.REAL, 0, true, F, true);
    /** A count: iterations (--iters), a rank; at most 2^31 - 1, as the command line's int options. */
    public static final ParameterRange COUNT = new ParameterRange(Kind.INTEGER, 0, true, Integer.MAX_VALUE, true);
    /** true or false (normalize, rescale, ...). */
    public static final ParameterRange FLAG = new ParameterRange(Kind.FLAG, 0, true, 1, true);

    /** Null where {@code v} lies in the range, else what the value must be ("must lie in (0, 1]"). */
    public String problem(double v) {
        if (kind == Kind.FLAG) {
            return v == 0 || v == 1 ? null : "must be true or false";
        }
        boolean whole = kind != Kind.INTEGER || v == Math.rint(v);
        boolean aboveMin = minIncluded ? v >= min : v > min;     // NaN fails both
        boolean belowMax = maxIncluded ? v <= max : v < max;
        return whole && aboveMin && belowMax ? null : "must be " + describe();
    }

    /** "a number in (0, 1]", "an integer from 0 to 2147483647", ... */
    public String describe() {
        switch (kind) {
            case FLAG:
                return "true or false";
            case INTEGER:
                return "an integer from " + (long) min + " to " + (long) max;
            default:
                if (min == -F && max == F) {
                    return "a finite number (float32: |x| <= 3.4e38)";
                }
                if (max == F) {
                    return (minIncluded ? "a number >= " : "a number > ") + plain(min) + " (float32: <= 3.4e38)";
                }
                return "a number in " + (minIncluded ? "[" : "(") + plain(min) + ", " + plain(max)
                        + (maxIncluded ? "]" : ")");
        }
    }

    private static String plain(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
}
