package dev.wudi.bench;

/**
 * The error function in double precision, for the exact GELU of the fixture scorer: the Maclaurin
 * series for |x| &lt;= 2.5 and Lentz's continued fraction for erfc beyond. Both are accurate to a few
 * units of 1e-15 in their ranges (within 1e-14 of Commons Math on a fine grid over [-7, 7], tested).
 */
public final class Erf {

    private static final double TWO_OVER_SQRT_PI = 1.1283791670955126;
    private static final double ONE_OVER_SQRT_PI = 0.5641895835477563;

    private Erf() {
    }

    public static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double ax = Math.abs(x);
        if (ax <= 2.5) {
            // erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))
            double x2 = x * x;
            double term = x; // (-1)^n x^(2n+1) / n!
            double sum = x;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) {
                    break;
                }
            }
            return TWO_OVER_SQRT_PI * sum;
        }
        if (ax >= 6.5) {
            return Math.copySign(1.0, x);
        }
        return Math.copySign(1.0 - erfcLarge(ax), x);
    }

    /**
     * erfc(x) for x &gt; 2.5: exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
     * evaluated by the modified Lentz method.
     */
    private static double erfcLarge(double x) {
        double tiny = 1e-300;
        double f = x;
        double c = x;
        double d = 0;
        for (int k = 1; k < 500; k++) {
            double a = k / 2.0;
            d = x + a * d;
            d = Math.abs(d) < tiny ? tiny : d;
            c = x + a / c;
            c = Math.abs(c) < tiny ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) {
                break;
            }
        }
        return Math.exp(-x * x) * ONE_OVER_SQRT_PI / f;
    }

    /** The exact GELU: 0.5 z (1 + erf(z / sqrt 2)). */
    public static double gelu(double z) {
        return 0.5 * z * (1 + erf(z * 0.7071067811865476));
    }
}
