package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import dev.wudi.testing.ChildProcess;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JNA binding and the row-major mapping of each cuBLAS call, without a GPU: a fake libcublas.so.13
 * (src/test/resources/dev/wudi/cuda/fake_cublas.c, compiled here with the system C compiler) checks the
 * arguments it receives. Skipped, saying so, where no C compiler exists.
 */
class CublasFakeLibraryTest {

    @TempDir
    Path dir;

    private CublasNative lib;
    private Path so;

    @BeforeEach
    void buildFake() throws IOException, InterruptedException {
        Path src = dir.resolve("fake_cublas.c");
        try (InputStream in = getClass().getResourceAsStream("fake_cublas.c")) {
            Files.copy(in, src);
        }
        so = dir.resolve("libcublas.so.13");
        int rc = ChildProcess.run(List.of("cc", "-shared", "-fPIC", "-o", so.toString(), src.toString()), 60).rc();
        Assumptions.assumeTrue(rc == 0, "no working C compiler (cc) to build the fake cuBLAS");
        lib = CublasNative.load(so.toString());
    }

    @Test
    void handleLifecycleAndVersion() {
        PointerByReference h = new PointerByReference();
        assertEquals(0, lib.cublasCreate_v2(h));
        assertEquals(0x1234, Pointer.nativeValue(h.getValue()));
        IntByReference v = new IntByReference();
        assertEquals(0, lib.cublasGetVersion_v2(h.getValue(), v));
        assertEquals(130001, v.getValue());
        assertEquals(0, lib.cublasSetStream_v2(h.getValue(), new Pointer(0xabc)));
        assertEquals(0, lib.cublasSetMathMode(h.getValue(), CublasNative.CUBLAS_TF32_TENSOR_OP_MATH));
        assertEquals(0, lib.cublasDestroy_v2(h.getValue()));
    }

    /** out (5, 3) = 2 * a (5, 3) * s (3, 3) + 0.5 * out, and the same with swapped shapes (which the fake rejects). */
    static int[] rowMajorProduct(CublasHotPath hot) {
        try (Memory scalars = new Memory(8)) {
            scalars.setFloat(0, 2f);
            scalars.setFloat(4, 0.5f);
            long alpha = Pointer.nativeValue(scalars);
            return new int[] {Cublas.sgemmRowMajor(hot, 0x1234, 0x200, 5, 3, 0x100, alpha, alpha + 4, 0x300),
                Cublas.sgemmRowMajor(hot, 0x1234, 0x200, 3, 5, 0x100, alpha, alpha + 4, 0x300)};
        }
    }

    @Test
    void rowMajorProductMapsToColumnMajorSgemm() {
        int[] status = rowMajorProduct(CublasHotPath.of(lib));
        assertEquals(0, status[0]);
        assertEquals(13, status[1], "the fake rejects swapped shapes, so the check has teeth");
    }

    /**
     * The direct mapping the step loop uses (bound once per process, so in a child JVM): the same arguments reach
     * the library as through the interface mapping.
     */
    @Test
    void directMappingPassesTheSameArguments() throws Exception {
        ChildProcess.Outcome run = ChildProcess.run(ChildProcess.java(List.of(), DirectMain.class, so.toString()), 120);
        assertEquals(0, run.rc(), run.output());
        assertEquals("sgemm 0 13", run.output().strip());
    }

    /** Binds {@link CublasDirect} to the fake library named by args[0] and prints the two statuses. */
    public static final class DirectMain {
        public static void main(String[] args) {
            int[] status = rowMajorProduct(CublasDirect.bind(NativeLibrary.getInstance(args[0])));
            System.out.println("sgemm " + status[0] + " " + status[1]);
        }
    }

    @Test
    void gramMapsToUpperSyrk() {
        assertEquals(0, Cublas.syrkUpperRowMajor(lib, new Pointer(0x1234), 0x200, 5, 3, 0x400));
    }

    @Test
    void failingCallNamesTheCallAndTheStatus() {
        int status = lib.cublasSaxpy_v2(new Pointer(0x1234), 4, new float[] {1f}, new Pointer(0x10), 1, new Pointer(0x20), 1);
        CudaException e = assertThrows(CudaException.class, () -> CublasStatus.check(status, "cublasSaxpy_v2", "merging tensor X"));
        assertEquals("cublasSaxpy_v2 failed: CUBLAS_STATUS_LICENSE_ERROR while merging tensor X", e.getMessage());
        assertEquals("CUBLAS_STATUS_LICENSE_ERROR", e.status());
    }
}
