package dev.wudi.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The solver details of a tensor in the reader's words, known keys first, unknown ones still shown. */
class SolverDetailsTest {

    @Test
    void adamUnderAutoLrReadsAsItsLrAndWhy() {
        assertEquals("lr 1.23e-05 (--lr auto, task-vector RMS 0.000345)",
                SolverDetails.describe(Map.of("lr", 1.2345e-5, "task_vector_rms", 3.45e-4)));
    }

    @Test
    void aFixedLrIsJustTheLr() {
        // a default or given --lr: no task-vector RMS was measured, so --lr auto did not choose it
        assertEquals("lr 1.00e-05", SolverDetails.describe(Map.of("lr", 1e-5)));
    }

    @Test
    void spectralSolversReadAsFilterRankAndTime() {
        assertEquals(List.of("filter parameter 0.0120", "rank used 87", "eigendecomposition 0.310 s"),
                SolverDetails.phrases(Map.of("eigen_seconds", 0.31, "rank_used", 87.0, "filter_param", 0.012)));
    }

    @Test
    void expertsZerosAdaptersAndUnknownKeys() {
        assertEquals(List.of("8 matrices (experts), each solved on its own; figures are per-matrix means",
                "2 of them with every task vector zero (kept as the base)",
                "adapter rank 16, relative error of the truncation 0.0031", "some new key 2.50"),
                SolverDetails.phrases(Map.of("matrices", 8.0, "matrices_with_all_task_vectors_zero", 2.0,
                        "adapter_rank", 16.0, "adapter_relative_error", 0.0031, "some_new_key", 2.5)));
        assertEquals("every task vector is zero here: the base is kept, nothing to solve",
                SolverDetails.describe(Map.of("all_task_vectors_zero", 1.0)));
        assertEquals("", SolverDetails.describe(Map.of()));
    }
}
