// The one translation unit nvcc turns into wudi_kernels.fatbin (see CMakeLists.txt): each file below is
// one job with its own reference and launch notes; compiling them together needs no device linking.
#include "task_vector.cu"
#include "convert.cu"
#include "squared_norm.cu"
#include "interference_loss.cu"
#include "reduce_partials.cu"
#include "symmetrize.cu"
#include "fused_adam.cu"
