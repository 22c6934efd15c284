package dev.wudi.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * `wudi` with the process's peak resident memory (Linux's VmHWM, every byte the process ever had resident: heap,
 * native buffers, LAPACK's own workspaces, mapped input pages) printed as the last line of stderr, for tests that
 * measure a solver's memory in a child JVM.
 */
public final class PeakMemoryMain {

    static final String PREFIX = "peak-resident-bytes: ";

    private PeakMemoryMain() {
    }

    public static void main(String[] args) {
        int exit = Main.execute(args);
        System.err.println(PREFIX + peakResidentBytes());
        System.exit(exit);
    }

    /** VmHWM from /proc/self/status, or -1 where there is none (not Linux). */
    static long peakResidentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] f = line.trim().split("\\s+");
                    return Long.parseLong(f[1]) * 1024;          // "VmHWM:   123456 kB"
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
