package dev.wudi.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The backends that run everywhere offer what they list ({@link CapabilityCheck}); a device set lists what a tensor can
 * count on wherever it lands and what its first member's problems offer.
 */
class CapabilitiesTest {

    @Test
    void theCpuOffersEverySolverAndWhatItLists() {
        try (Backend cpu = Backends.cpu(1)) {
            assertEquals(EnumSet.of(Capability.HOST, Capability.SPECTRAL_SOLVERS, Capability.EXACT_IN_DOUBLE,
                    Capability.LOW_RANK_SOLVE), cpu.capabilities());
            CapabilityCheck.assertOffersWhatItLists(cpu);
        }
    }

    @Test
    void aBackendThatListsNothingRefusesEveryAbility() {
        try (Backend fake = new FakeGpuBackend()) {
            assertEquals(Set.of(), fake.capabilities());
            CapabilityCheck.assertOffersWhatItLists(fake);
        }
    }

    /** Lists the spectral solvers (the CPU's underneath) and says that they run here in part. */
    static final class SpectralDevice extends FakeGpuBackend {
        @Override
        public Set<Capability> capabilities() {
            return EnumSet.of(Capability.SPECTRAL_SOLVERS);
        }

        @Override
        public WudiProblem newProblem(String tensorName, int rows, int cols) {
            return cpu.newProblem(tensorName, rows, cols);
        }

        @Override
        public String spectralSolversNote() {
            return "eigendecompositions on the CPU (test)";
        }
    }

    @Test
    void aDeviceSetListsWhatEveryMemberOffersForTheMergeAndTheFirstMembersProblems() {
        try (DeviceSet set = new DeviceSet(List.of(new SpectralDevice(), Backends.cpu(1)))) {
            // every member runs the spectral solvers; only the CPU the exact solver in double, and the CPU alone is
            // the host; the problems and the low-rank solve are the first member's, which offers neither
            assertEquals(EnumSet.of(Capability.SPECTRAL_SOLVERS), set.capabilities());
            assertEquals("eigendecompositions on the CPU (test)", set.spectralSolversNote());
            CapabilityCheck.assertOffersWhatItLists(set);
        }
    }
}
