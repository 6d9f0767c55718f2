// Optimizer updates in place: twins of CPUBackend/CPUOptim.swift. One work-item per element.

// c1 = 1/(1 − β₁ᵗ), c2 = 1/(1 − β₂ᵗ), computed on the host in float64. Each work-item updates
// REGISTER_WIDTH consecutive elements in vector registers (the last one those that are left).
#define ADAM_STEP(T, gi, mi, vi, pi) { \
    mi = beta1 * mi + (1.0f - beta1) * gi; \
    vi = beta2 * vi + (1.0f - beta2) * gi * gi; \
    pi -= lr * (mi * c1) / (sqrt(vi * c2) + epsilon); }
// The step on the REGISTER_WIDTH elements from `first` with gradient vector gi, or on element j.
#define ADAM_VECTOR(first, gi) { \
    floatR mi = vloadR(0, m + (first)), vi = vloadR(0, v + (first)), pi = vloadR(0, p + (first)); \
    ADAM_STEP(floatR, gi, mi, vi, pi) \
    vstoreR(mi, 0, m + (first)); vstoreR(vi, 0, v + (first)); vstoreR(pi, 0, p + (first)); }
#define ADAM_ELEMENT(j, gj) { \
    float gi = (gj), mi = m[j], vi = v[j], pi = p[j]; \
    ADAM_STEP(float, gi, mi, vi, pi) \
    m[j] = mi; v[j] = vi; p[j] = pi; }
__kernel void adam(__global float* p, __global const float* g, __global float* m, __global float* v, int n,
                   float lr, float beta1, float beta2, float epsilon, float c1, float c2) {
    int first = get_global_id(0) * REGISTER_WIDTH;
    if (first + REGISTER_WIDTH <= n) {
        floatR gi = vloadR(0, g + first);
        ADAM_VECTOR(first, gi)
        return;
    }
    for (int i = first; i < n; ++i) ADAM_ELEMENT(i, g[i])
}

// adam with g the column sums of rows[M, n] (a bias gradient): REGISTER_WIDTH columns per
// work-item, the rows added in order as reduce_rows adds them, then the update; the last
// columns one by one.
__kernel void adam_summing_rows(__global float* p, __global const float* rows, __global float* m, __global float* v, int M, int n,
                                float lr, float beta1, float beta2, float epsilon, float c1, float c2) {
    int first = get_global_id(0) * REGISTER_WIDTH;
    if (first >= n) return;
    if (first + REGISTER_WIDTH <= n) {
        floatR gi = 0.0f;
        for (int i = 0; i < M; ++i) gi += vloadR(0, rows + (size_t)i * n + first);
        ADAM_VECTOR(first, gi)
        return;
    }
    for (int j = first; j < n; ++j) {
        float gj = 0.0f;
        for (int i = 0; i < M; ++i) gj += rows[(size_t)i * n + j];
        ADAM_ELEMENT(j, gj)
    }
}
#undef ADAM_STEP
#undef ADAM_VECTOR
#undef ADAM_ELEMENT

__kernel void sgd(__global float* p, __global const float* g, int n, float lr) {
    int i = get_global_id(0);
    if (i < n) p[i] -= lr * g[i];
}
