package dev.wudi.cpu;

/** Prints the native CPU Adam pass's state, for {@link CpuAdamKernelTest}'s child JVMs. */
public final class CpuAdamKernelStatusMain {

    private CpuAdamKernelStatusMain() {
    }

    public static void main(String[] args) {
        System.out.println("available=" + CpuAdamKernel.available() + " offByChoice=" + CpuAdamKernel.offByChoice()
                + " status=" + CpuAdamKernel.status());
    }
}
