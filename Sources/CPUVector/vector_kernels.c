// Instantiates vector_kernels.inc once per instruction set and dispatches at run time (see
// include/cpuvector.h). The arithmetic is the same at every width; only the number of lanes
// (and with it the order of additions inside a row sum) changes.
#include "cpuvector.h"

#define VK_WIDTH 4
#define VK_TARGET
#define VK_NAME(name) name##_sse2
#include "vector_kernels.inc"
#undef VK_WIDTH
#undef VK_TARGET
#undef VK_NAME

#if defined(__x86_64__)
#define VK_WIDTH 8
#define VK_TARGET __attribute__((target("avx2,fma")))
#define VK_NAME(name) name##_avx2
#include "vector_kernels.inc"
#undef VK_WIDTH
#undef VK_TARGET
#undef VK_NAME

#define VK_WIDTH 16
#define VK_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define VK_NAME(name) name##_avx512
#include "vector_kernels.inc"
#undef VK_WIDTH
#undef VK_TARGET
#undef VK_NAME
#endif

#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

unsigned vector_flush_denormals(void) {
#if defined(__x86_64__)
    unsigned previous = _mm_getcsr();
    _mm_setcsr(previous | 0x8040);  // FTZ (bit 15) and DAZ (bit 6)
    return previous;
#else
    return 0;
#endif
}

void vector_pause(void) {
#if defined(__x86_64__)
    _mm_pause();
#endif
}

void vector_restore_denormals(unsigned previous) {
#if defined(__x86_64__)
    _mm_setcsr(previous);
#else
    (void)previous;
#endif
}

#define KERNELS(suffix, name) { name, vae_loss_rows_bernoulli_##suffix, vae_loss_gradient_bernoulli_##suffix, adam_##suffix, bias_leaky_relu_##suffix, \
                                activation_gradient_leaky_relu_##suffix }
static const struct vector_kernels sse2 = KERNELS(sse2, "sse2");
#if defined(__x86_64__)
static const struct vector_kernels avx2 = KERNELS(avx2, "avx2+fma");
static const struct vector_kernels avx512 = KERNELS(avx512, "avx512f");
#endif

const struct vector_kernels *vector_kernels_named(const char *isa) {
    if (strcmp(isa, "sse2") == 0) return &sse2;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (strcmp(isa, "avx2+fma") == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2;
    if (strcmp(isa, "avx512f") == 0 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return &avx512;
#endif
    return NULL;
}

static const struct vector_kernels *chosen;

const struct vector_kernels *vector_kernels_chosen(void) {
    if (chosen) return chosen;  // a benign race: every thread finds the same copy
    const struct vector_kernels *found = vector_kernels_named("avx512f");
    if (!found) found = vector_kernels_named("avx2+fma");
    if (!found) found = &sse2;
    chosen = found;
    return found;
}

void vector_vae_loss_rows_bernoulli(float *out, const float *x, const float *logits, long rows, long width) {
    vector_kernels_chosen()->vae_loss_rows_bernoulli(out, x, logits, rows, width);
}

void vector_vae_loss_gradient_bernoulli(float *out, const float *x, const float *logits, long count, float scale) {
    vector_kernels_chosen()->vae_loss_gradient_bernoulli(out, x, logits, count, scale);
}

void vector_adam(float *p, const float *g, float *m, float *v, long count,
                 float beta1, float beta2, float lr, float eps, float c1, float c2) {
    vector_kernels_chosen()->adam(p, g, m, v, count, beta1, beta2, lr, eps, c1, c2);
}

void vector_bias_leaky_relu(float *y, const float *bias, long rows, long n, float slope) {
    vector_kernels_chosen()->bias_leaky_relu(y, bias, rows, n, slope);
}

void vector_activation_gradient_leaky_relu(float *dx, const float *y, const float *dy, long count, float slope) {
    vector_kernels_chosen()->activation_gradient_leaky_relu(dx, y, dy, count, slope);
}
