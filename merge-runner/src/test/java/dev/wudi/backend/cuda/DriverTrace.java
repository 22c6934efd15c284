package dev.wudi.backend.cuda;

import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;

/**
 * The call trace of the emulated driver (java-bindings/src/test/c/emulated_libcuda.c: one letter per driver or cuBLAS
 * call, in call order; the letters are listed at the top of that file), in a JVM that loaded it: EmulatedGpuMain names
 * it in the system property {@link #PROPERTY}.
 */
final class DriverTrace {

    static final String PROPERTY = "wudi.test.emulatedDriver";
    private static final long CAPACITY = 8L << 20;

    private DriverTrace() {
    }

    static boolean available() {
        return System.getProperty(PROPERTY) != null;
    }

    private static NativeLibrary driver() {
        return NativeLibrary.getInstance(System.getProperty(PROPERTY));
    }

    /** Forgets every call so far. */
    static void reset() {
        driver().getFunction("wudi_emu_reset").invokeVoid(new Object[0]);
    }

    /** Every call since the last reset. */
    static String read() {
        try (Memory buf = new Memory(CAPACITY)) {
            long n = driver().getFunction("wudi_emu_trace").invokeLong(new Object[] {buf, CAPACITY});
            if (n > CAPACITY) {
                throw new IllegalStateException("the emulated driver's trace overflowed (" + n + " calls): reset it sooner");
            }
            return new String(buf.getByteArray(0, (int) n), java.nio.charset.StandardCharsets.US_ASCII);
        }
    }

    /** How many of {@code letters} occur in {@code trace}. */
    static long count(String trace, String letters) {
        return trace.chars().filter(c -> letters.indexOf(c) >= 0).count();
    }
}
