package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Where no cuSOLVER exists (this build machine, CI), loading it fails once, with the reason and the fix, and the
 * GPU backend falls back on that answer. Skipped where a cuSOLVER can be found.
 */
class CusolverAbsentTest {

    @Test
    void missingCusolverGivesOneReasonWithTheFix() {
        Assumptions.assumeFalse(System.getProperty(CusolverLocator.PROPERTY) != null
                || System.getenv(CusolverLocator.ENV) != null, "cuSOLVER is named explicitly here");
        Assumptions.assumeFalse(CusolverLocator.system().locate().isFile(), "a cuSOLVER exists on this machine");
        String why = Cusolver.unavailableReason();
        Assumptions.assumeTrue(why != null, "the dynamic loader found a cuSOLVER");
        assertTrue(why.contains("libcusolver.so.12") && why.contains(CusolverLocator.ENV)
                && why.contains("nvidia-cusolver"), why);
        assertSame(why, Cusolver.unavailableReason(), "tried once per process");
        IllegalStateException e = assertThrows(IllegalStateException.class, Cusolver::library);
        assertNotNull(e.getMessage());
    }
}
