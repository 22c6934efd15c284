package dev.wudi.cuda;

import com.sun.jna.NativeLibrary;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

/**
 * Run in a child JVM by FakeDriverProbeTest: loads a fake libcuda.so.1 by path (its soname then satisfies
 * JCuda's dependency on libcuda.so.1) and prints the probe's verdict on one line.
 */
public final class FakeDriverProbeMain {

    /** Held for the JVM's life: JNA closes a library whose NativeLibrary object is garbage-collected. */
    private static NativeLibrary driver;

    private FakeDriverProbeMain() {
    }

    public static void main(String[] args) {
        driver = NativeLibrary.getInstance(args[0]);
        Path none = Path.of(args[0]).getParent();
        ProbeResult r = CudaProbe.probe(CudaProbe.DRIVER_LIBRARY,
                new CublasLocator(none, Map.of(), new Properties(), none));
        System.out.println("available=" + r.available() + " driverFound=" + r.driverFound() + " reason=" + r.reason());
    }
}
