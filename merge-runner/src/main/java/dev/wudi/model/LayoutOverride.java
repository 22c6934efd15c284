package dev.wudi.model;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * --layout REGEX=LAYOUT: forces the layout of every tensor whose name the regex finds, for architectures the
 * rules in {@link Architectures} do not know (or get wrong). The first matching override wins. The inputs can imply
 * one too (a LoRA adapter's fan_in_fan_out): its {@code origin} says so in the plan, where the user's say "--layout".
 */
public record LayoutOverride(Pattern regex, Layout layout, String origin) {

    /** The user's --layout. */
    public LayoutOverride(Pattern regex, Layout layout) {
        this(regex, layout, null);
    }

    /** What decided it, for the plan: "--layout REGEX=LAYOUT", or the origin given. */
    public String source() {
        return origin != null ? origin : "--layout " + this;
    }

    /**
     * Parses "REGEX=LAYOUT"; the last '=' separates them, so the regex may hold '='.
     *
     * @throws IllegalArgumentException with the reason, for the CLI to print
     */
    public static LayoutOverride parse(String s) {
        int eq = s.lastIndexOf('=');
        if (eq <= 0 || eq == s.length() - 1) {
            throw new IllegalArgumentException("--layout takes REGEX=LAYOUT (e.g. 'c_attn|c_fc|c_proj=in-out'), got '"
                    + s + "'");
        }
        Pattern p;
        try {
            p = Pattern.compile(s.substring(0, eq));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("--layout " + s + ": invalid regex: " + e.getDescription());
        }
        return new LayoutOverride(p, Layout.parse(s.substring(eq + 1)));
    }

    @Override
    public String toString() {
        return regex.pattern() + "=" + layout.label();
    }
}
