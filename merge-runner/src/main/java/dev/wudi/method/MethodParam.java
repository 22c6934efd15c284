package dev.wudi.method;

/** A numeric parameter of a merge method, with its default and what it means. */
public record MethodParam(String name, double defaultValue, String description) {
}
