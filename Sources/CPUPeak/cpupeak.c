// The machine-peak reference of the benchmarks: FMA chains written with intrinsics, because
// Swift builds for baseline x86-64 (no FMA) unless told otherwise. Twelve independent
// accumulators hide the FMA latency (4 cycles × 2 ports = 8 in flight at least).
#include "cpupeak.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
static double loop_avx512(long n) {
    __m512 a[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.0f + i);
    for (long k = 0; k < n; ++k)
        for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
    __m512 s = a[0];
    for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)n * 12 * 16 * 2;
}

__attribute__((target("avx2,fma")))
static double loop_avx2(long n) {
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.0f + i);
    for (long k = 0; k < n; ++k)
        for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return (double)n * 12 * 8 * 2;
}
#endif

static double loop_scalar(long n) {
    float a[12], m = 0.999999f, c = 1e-7f;
    for (int i = 0; i < 12; ++i) a[i] = 1.0f + i;
    for (long k = 0; k < n; ++k)
        for (int i = 0; i < 12; ++i) a[i] = a[i] * m + c;
    volatile float sink = a[0] + a[11];
    (void)sink;
    return (double)n * 12 * 2;
}

const char *cpupeak_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
#endif
    return "scalar";
}

double cpupeak_fma_loop(long iterations) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return loop_avx512(iterations);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return loop_avx2(iterations);
#endif
    return loop_scalar(iterations);
}
