package dev.wudi.merge;

import java.util.Locale;

/**
 * How a loss (or any measured figure) is written in every report, so that the progress lines, the summary, the model
 * card and the HTML page show the same number for the same value: six significant digits as C's %.6g writes them,
 * trailing zeros dropped, exponent form below 1e-4 and from 1e6, zero as "0". Java's %.6g alone writes zero as
 * "0.00000", which reads like a small value rounded away beside "1.64844e-09".
 */
public final class Figures {

    private Figures() {
    }

    /** The figure in six significant digits: "0.0062488", "1.64844e-09", "0", "12.5". */
    public static String of(double v) {
        if (v == 0) {
            return "0";
        }
        if (!Double.isFinite(v)) {
            return Double.isNaN(v) ? "NaN" : v > 0 ? "Inf" : "-Inf";
        }
        String s = String.format(Locale.ROOT, "%.6g", v);
        int e = s.indexOf('e');
        String mantissa = e < 0 ? s : s.substring(0, e);
        String exponent = e < 0 ? "" : s.substring(e);
        if (mantissa.indexOf('.') >= 0) {
            mantissa = mantissa.replaceAll("0+$", "");
            if (mantissa.endsWith(".")) {
                mantissa = mantissa.substring(0, mantissa.length() - 1);
            }
        }
        return mantissa + exponent;
    }
}
