// OpenBLAS's CBLAS interface (cblas_sgemm for the CPU backend's matrix products; OpenBLAS also
// declares openblas_set_num_threads and openblas_get_corename here).
#include <cblas.h>

// Whether this CPU runs OpenBLAS's SkylakeX kernels (AVX-512 F, CD, BW, DQ and VL), and its
// Haswell kernels (AVX2 and FMA): see CPUBackend/OpenBLASCore.swift.
static inline int svae_cpu_runs_skylakex_kernels(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

static inline int svae_cpu_runs_haswell_kernels(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
