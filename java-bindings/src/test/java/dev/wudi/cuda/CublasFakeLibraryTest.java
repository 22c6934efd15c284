package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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

    @BeforeEach
    void buildFake() throws IOException, InterruptedException {
        Path src = dir.resolve("fake_cublas.c");
        try (InputStream in = getClass().getResourceAsStream("fake_cublas.c")) {
            Files.copy(in, src);
        }
        Path so = dir.resolve("libcublas.so.13");
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

    @Test
    void rowMajorProductMapsToColumnMajorSgemm() {
        // out (5, 3) = 2 * a (5, 3) * s (3, 3) + 0.5 * out
        assertEquals(0, Cublas.sgemmRowMajor(lib, new Pointer(0x1234), 0x200, 5, 3, 0x100, 2f, 0.5f, 0x300));
        assertEquals(13, Cublas.sgemmRowMajor(lib, new Pointer(0x1234), 0x200, 3, 5, 0x100, 2f, 0.5f, 0x300),
                "the fake rejects swapped shapes, so the check has teeth");
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
