package dev.wudi.config;

import dev.wudi.spec.OptionException;

/** A merge config the engine cannot run as written: the file, the line and the key are in the message (exit 2). */
public final class ConfigException extends OptionException {

    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
