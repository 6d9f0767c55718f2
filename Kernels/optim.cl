// Optimizer updates in place: twins of CPUBackend/CPUOptim.swift. One work-item per element.

// The Adam step (ADAM_STEP, ADAM_VECTOR, ADAM_ELEMENT) is in common.cl: matmul.cl's tiles use it too.
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

// The bias step of a dense layer's fused update: the work-item of each row tile's first column
// tile sums its rows of A[K, M] over k (in order, as adam_summing_rows adds them) and steps on
// those elements of the bias, m, v; rows before `row_start` are the neighbouring tile's.
__attribute__((always_inline)) inline void adam_tile_bias(__global float* p, __global float* m, __global float* v, __global const float* A, int M, int K,
                           int rows_first, int narrow, float lr, float beta1, float beta2, float epsilon, float c1, float c2) {
    int tile_rows = narrow ? 2 * NN_ROWS : NN_ROWS;
    int row_start = get_global_id(rows_first ? 0 : 1) * tile_rows;
    if (get_global_id(rows_first ? 1 : 0) != 0 || row_start >= M) return;
    int r0 = min(row_start, M - tile_rows);
    // lo_i sums row r0 + i; hi_i row r0 + NN_ROWS + i (narrow tiles).
#define BIAS_SUMS(i) float lo##i = 0.0f, hi##i = 0.0f;
#define BIAS_ADD(i) { lo##i += a[i]; if (narrow) hi##i += a[(i) + NN_ROWS]; }
#define BIAS_STEP(i) { \
    if (r0 + (i) >= row_start) ADAM_ELEMENT(r0 + (i), lo##i) \
    if (narrow && r0 + (i) + NN_ROWS >= row_start) ADAM_ELEMENT(r0 + (i) + NN_ROWS, hi##i) }
    FOR_NN_ROWS(BIAS_SUMS)
    __global const float* a = A + r0;
    for (int k = 0; k < K; ++k, a += M) { FOR_NN_ROWS(BIAS_ADD) }
    FOR_NN_ROWS(BIAS_STEP)
#undef BIAS_SUMS
#undef BIAS_ADD
#undef BIAS_STEP
}

// adam with g = A[K, M]ᵀ·B[K, N] (a dense layer's weight gradient): matmul_tn's register tiles
// (matmul.cl), each updating its block of p, m, v with the block of g it summed, which is never
// stored. K in one piece (the host checks); `rows_first` as in matmul_tn. With `has_bias`, also
// adam on bias[M] (and bias_m, bias_v) with g the column sums of A (adam_tile_bias).
__kernel void adam_transposed_product(__global float* p, __global const float* A, __global const float* B, __global float* m,
                                      __global float* v, __global float* bias, __global float* bias_m, __global float* bias_v,
                                      int M, int N, int K, int rows_first, int has_bias, float lr, float beta1, float beta2,
                                      float epsilon, float c1, float c2) {
    matmul_tile(p, A, B, p, M, N, K, 1, K, rows_first, 0, 0, 0.0f, 0, m, v, (float4)(lr, beta1, beta2, epsilon), c1, c2, 1, A, A, 0, 0);
    if (has_bias) adam_tile_bias(bias, bias_m, bias_v, A, M, K, rows_first, 0, lr, beta1, beta2, epsilon, c1, c2);
}

// The same with N under two vectors (matmul_tn_narrow's tiles).
__kernel void adam_transposed_product_narrow(__global float* p, __global const float* A, __global const float* B, __global float* m,
                                             __global float* v, __global float* bias, __global float* bias_m, __global float* bias_v,
                                             int M, int N, int K, int rows_first, int has_bias, float lr, float beta1, float beta2,
                                             float epsilon, float c1, float c2) {
    matmul_tile(p, A, B, p, M, N, K, 1, K, rows_first, 0, 0, 0.0f, 1, m, v, (float4)(lr, beta1, beta2, epsilon), c1, c2, 1, A, A, 0, 0);
    if (has_bias) adam_tile_bias(bias, bias_m, bias_v, A, M, K, rows_first, 1, lr, beta1, beta2, epsilon, c1, c2);
}

__kernel void sgd(__global float* p, __global const float* g, int n, float lr) {
    int i = get_global_id(0);
    if (i < n) p[i] -= lr * g[i];
}
