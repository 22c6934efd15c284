package dev.wudi.cli;

import picocli.CommandLine.Option;

/** The sizes that measure a GPU's ceilings, for the benches that print figures beside their floors. */
final class CeilingOptions {

    @Option(names = "--ceiling-copy-mib", defaultValue = "1024", paramLabel = "MIB",
            description = "Size of the device-to-device copy that measures the bandwidth ceiling (default: ${DEFAULT-VALUE};"
                    + " smaller understates it).")
    int copyMib;

    @Option(names = "--ceiling-gemm", defaultValue = "8192", paramLabel = "N",
            description = "n of the n^3 SGEMM that measures the compute ceiling (default: ${DEFAULT-VALUE}; smaller"
                    + " understates it).")
    int gemm;

    /** @throws Errors.UsageException unless both are at least 1 */
    void check() {
        if (copyMib < 1 || gemm < 1) {
            throw new Errors.UsageException("--ceiling-copy-mib and --ceiling-gemm must be >= 1");
        }
    }

    long copyBytes() {
        return (long) copyMib << 20;
    }
}
