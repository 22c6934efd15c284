package dev.wudi.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The dealer's choice of tensor for a device ({@link DeviceDealer#choose}), on measured rates. */
class DeviceDealerTest {

    private static List<DeviceDealer.Deal> deals(double... work) {
        java.util.ArrayList<DeviceDealer.Deal> d = new java.util.ArrayList<>();
        for (int i = 0; i < work.length; i++) {
            d.add(new DeviceDealer.Deal(i, null, work[i]));
        }
        return d;
    }

    private static DeviceDealer.Worker worker(double rate, double busyUntil, boolean cpuAmongGpus) {
        DeviceDealer.Worker w = new DeviceDealer.Worker(cpuAmongGpus);
        if (!Double.isNaN(rate)) {
            w.measured(1, rate);
        }
        w.busyUntil = busyUntil;
        return w;
    }

    @Test
    void unmeasuredDevicesTakeTheLargestAndTheCpuAmongGpusTheSmallest() {
        List<DeviceDealer.Deal> c = deals(10, 60, 40, 5);
        DeviceDealer.Worker gpu = worker(Double.NaN, 0, false);
        DeviceDealer.Worker cpu = worker(Double.NaN, 0, true);
        assertEquals(1, DeviceDealer.choose(c, gpu, List.of(gpu, cpu), 0));
        assertEquals(3, DeviceDealer.choose(c, cpu, List.of(gpu, cpu), 0));
    }

    @Test
    void aSlowDeviceTakesOnlyWhatItFinishesBeforeTheFastOneCould() {
        List<DeviceDealer.Deal> c = deals(10, 60, 40);
        DeviceDealer.Worker cpu = worker(100, 0, true);
        DeviceDealer.Worker idleGpu = worker(1, 0, false);
        // the GPU is free now: it finishes anything first, the CPU waits
        assertEquals(-1, DeviceDealer.choose(c, cpu, List.of(idleGpu, cpu), 0));
        // the GPU is busy until t = 5000: the CPU finishes w by 100 w, the GPU by 5000 + w; 40 fits, 60 does not
        DeviceDealer.Worker busyGpu = worker(1, 5000, false);
        assertEquals(2, DeviceDealer.choose(c, cpu, List.of(busyGpu, cpu), 0));
        // and the fast device itself always takes the largest
        assertEquals(1, DeviceDealer.choose(c, idleGpu, List.of(idleGpu, cpu), 0));
        // a failed device is no competition
        busyGpu.alive = false;
        idleGpu.alive = false;
        assertEquals(1, DeviceDealer.choose(c, cpu, List.of(idleGpu, busyGpu, cpu), 0));
    }

    @Test
    void equalDevicesShareLargestFirst() {
        List<DeviceDealer.Deal> c = deals(10, 60, 40);
        DeviceDealer.Worker a = worker(1, 0, false);
        DeviceDealer.Worker b = worker(1, 55, false);
        assertEquals(1, DeviceDealer.choose(c, a, List.of(a, b), 0));
        assertEquals(-1, DeviceDealer.choose(deals(), a, List.of(a, b), 0));
    }
}
