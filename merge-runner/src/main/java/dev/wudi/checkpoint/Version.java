package dev.wudi.checkpoint;

/** This build's version, from the jar's manifest ("dev" when run from classes, as in tests). */
public final class Version {

    private Version() {
    }

    public static String get() {
        String v = Version.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
