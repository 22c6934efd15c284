package dev.wudi.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.testing.ChildProcess;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Loading the native CPU Adam pass (its arithmetic is checked against the Java reference in merge-runner's
 * NativeAdamPassTest): a jar whose build compiled the library must load it, and the switch that turns it off
 * is obeyed and reported. The switch is read once per JVM, so those cases run in child JVMs.
 */
class CpuAdamKernelTest {

    /** A build that compiled libwudi_cpu (CMake with a C compiler) must ship a library that loads here. */
    @Test
    void theLibraryThisBuildCompiledLoads() {
        Assumptions.assumeTrue(CpuAdamKernel.buildStatus().startsWith("built"),
                "this build did not compile the CPU kernel: " + CpuAdamKernel.buildStatus());
        Assumptions.assumeTrue(System.getProperty(CpuAdamKernel.SWITCH_PROPERTY) == null
                && System.getenv(CpuAdamKernel.SWITCH_ENV) == null, "the native pass is switched by the environment");
        assertTrue(CpuAdamKernel.available(), CpuAdamKernel.status());
        assertTrue(CpuAdamKernel.status().startsWith("native (libwudi_cpu, "), CpuAdamKernel.status());
        assertTrue(CpuAdamKernel.resourcePath().startsWith(CpuAdamKernel.DIR), CpuAdamKernel.resourcePath());
    }

    @Test
    void badArgumentsAreRefusedBeforeNativeCode() {
        Assumptions.assumeTrue(CpuAdamKernel.available(), "the native CPU Adam pass is " + CpuAdamKernel.status());
        assertThrows(IllegalArgumentException.class,
                () -> CpuAdamKernel.fusedAdam(0L, 8L, 8L, 8L, 8L, 4, 0.1f, 0.999f, 0.001f, 1f, 1e-8f, -1e-3f, false, 4096));
        assertThrows(IllegalArgumentException.class,
                () -> CpuAdamKernel.gramLossTerms(8L, 8L, 8L, -1));
        assertThrows(IllegalArgumentException.class,
                () -> CpuAdamKernel.fusedAdam(8L, 8L, 8L, 8L, 8L, 4, 0.1f, 0.999f, 0.001f, 1f, 1e-8f, -1e-3f, true, 0));
    }

    private static String statusInChildJvm(List<String> jvmOptions, Map<String, String> env) throws InterruptedException {
        ChildProcess.Outcome o = ChildProcess.run(ChildProcess.java(jvmOptions, CpuAdamKernelStatusMain.class), env,
                List.of(CpuAdamKernel.SWITCH_ENV), 60);
        assertEquals(0, o.rc(), o.output());
        return o.output().strip();
    }

    @Test
    void thePropertyTurnsItOff() throws Exception {
        assertEquals("available=false offByChoice=true status=off (-Dwudi.cpu.adam=java)",
                statusInChildJvm(List.of("-Dwudi.cpu.adam=java"), Map.of()));
    }

    @Test
    void theEnvironmentTurnsItOffAndThePropertyWins() throws Exception {
        assertEquals("available=false offByChoice=true status=off (WUDI_CPU_ADAM=java)",
                statusInChildJvm(List.of(), Map.of("WUDI_CPU_ADAM", "Java")));
        String both = statusInChildJvm(List.of("-Dwudi.cpu.adam=auto"), Map.of("WUDI_CPU_ADAM", "java"));
        assertTrue(both.startsWith("available=" + CpuAdamKernel.buildStatus().startsWith("built")), both);
    }

    /** A value that is not auto, native or java is not taken for either: the pass is off and the line says why. */
    @Test
    void anUnknownValueIsReportedNotGuessed() throws Exception {
        assertEquals("available=false offByChoice=false status=off (-Dwudi.cpu.adam=fast is not one of auto, native, java)",
                statusInChildJvm(List.of("-Dwudi.cpu.adam=fast"), Map.of()));
    }
}
