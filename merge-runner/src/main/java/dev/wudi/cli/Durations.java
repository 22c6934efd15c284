package dev.wudi.cli;

import java.util.Locale;

/** Durations as progress lines and plans give them: in the unit that reads best, one decimal. */
public final class Durations {

    private Durations() {
    }

    /** Seconds under a minute, minutes under an hour, else hours: "42.0 s", "3.5 min", "1.2 h". */
    public static String text(double seconds) {
        if (seconds < 60) {
            return String.format(Locale.ROOT, "%.1f s", seconds);
        }
        if (seconds < 3600) {
            return String.format(Locale.ROOT, "%.1f min", seconds / 60);
        }
        return String.format(Locale.ROOT, "%.1f h", seconds / 3600);
    }
}
