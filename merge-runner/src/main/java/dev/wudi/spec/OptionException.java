package dev.wudi.spec;

/**
 * An option that does not fit the inputs it was given with (--heads from:5 with three models, a --layout that
 * matches no tensor): a usage error, exit 2 on the command line.
 */
public class OptionException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public OptionException(String message) {
        super(message);
    }
}
