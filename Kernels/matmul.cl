// Matrix products, row-major: twins of CPUBackend/CPUMatmul.swift (cblas_sgemm).
//   matmul_nn: C[M,N] = A[M,K]·B[K,N]      matmul_tn: C = A[K,M]ᵀ·B[K,N]   (*_narrow: N < 2 vectors)
//   matmul_nt: C = A[M,K]·B[N,K]ᵀ           linear_nt: C = act(A·Bᵀ + bias), the fused layer
//   matmul_generic: any transposes and sizes, one output per work-item (small or odd shapes)
//   (transpose and matmul_nt_panel, NT products through a transposed B, are in transpose.cl;
//   gemm_tiled, the GPU configuration's one product kernel, is in gemm.cl)
// The blocked kernels keep a tile of C in registers and need no local memory or barriers. A tile
// that would cross the matrix edge is shifted back inside (it overlaps its neighbour), computed
// on the fast path, and stores only the part that is its own; so any M, N, K ≥ 1 works as long
// as M and N are at least one tile (the host uses matmul_generic otherwise).
// Tile sizes are build options so each device type gets its own.

#ifndef NN_ROWS
#define NN_ROWS 6          // rows of C per work-item in matmul_nn / matmul_tn: 4, 6 or 8 (2 × REGISTER_WIDTH columns each)
#endif
#define NN_COLS (2 * REGISTER_WIDTH)
// X(i) for each row i of an NN tile, and its accumulators (lo_i: columns 0 … W − 1, hi_i: W …).
#if NN_ROWS > 6
#define FOR_NN_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#elif NN_ROWS > 4
#define FOR_NN_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#else
#define FOR_NN_ROWS(X) X(0) X(1) X(2) X(3)
#endif
#define NN_ACCUMULATORS(i) floatR lo##i = 0.0f, hi##i = 0.0f;
// A block's sums (K_BLOCK in common.cl), added to lo_i, hi_i at the end of each block.
#define NN_BLOCK_ACCUMULATORS(i) floatR block_lo##i = 0.0f, block_hi##i = 0.0f;
#define NN_ADD_BLOCK(i) lo##i += block_lo##i; hi##i += block_hi##i;
// A rows × B rows per work-item in the dot-product (NT) kernels: 4 × 4 where the vectors are
// 512-bit (32 registers hold the 16 sums), 3 × 4 otherwise (16 registers). TileConfiguration.ntRows.
#if REGISTER_WIDTH == 16
#define NT_ROWS 4
#else
#define NT_ROWS 3
#endif
#define NT_COLS 4

// The register tiles are spelled out (no private arrays): PoCL keeps arrays indexed in loops
// in memory, and named vector variables in vector registers.

// Stores the first `cols` (NN_COLS or REGISTER_WIDTH) of the values lo, hi from column `skip` on
// (the columns before belong to the neighbouring tile).
inline void store_cols(__global float* c, floatR lo, floatR hi, int skip, int cols) {
    if (skip == 0) {
        vstoreR(lo, 0, c);
        if (cols == NN_COLS) vstoreR(hi, 1, c);
        return;
    }
    float v[NN_COLS];
    vstoreR(lo, 0, v);
    vstoreR(hi, 1, v);
    for (int j = skip; j < cols; ++j) c[j] = v[j];
}

// Adam on the first `cols` elements of a row of p (and of m, v) from column `skip` on, with the
// gradient values lo, hi (store_cols's columns); h = (lr, beta1, beta2, epsilon).
inline void adam_cols(__global float* p, __global float* m, __global float* v, floatR lo, floatR hi, int skip, int cols,
                      float4 h, float c1, float c2) {
    float lr = h.s0, beta1 = h.s1, beta2 = h.s2, epsilon = h.s3;
    if (skip == 0) {
        ADAM_VECTOR(0, lo)
        if (cols == NN_COLS) ADAM_VECTOR(REGISTER_WIDTH, hi)
        return;
    }
    float g[NN_COLS];
    vstoreR(lo, 0, g);
    vstoreR(hi, 1, g);
    for (int j = skip; j < cols; ++j) ADAM_ELEMENT(j, g[j])
}

// Vector `part` of a tile row of a gradient through a ReLU: relu'(y) ⊙ (g + acc), as `add` and
// `activation_gradient_relu` compute it (the same operations in the same order: a product with
// 1 or 0, so a negative g gives −0 and a NaN stays NaN, bit for bit).
__attribute__((always_inline)) inline floatR through_relu(floatR g, __global const float* y, __global const float* acc, int part,
                                                     int accumulate) {
    if (accumulate) g = vloadR(part, acc) + g;
    return g * select((floatR)0.0f, (floatR)1.0f, vloadR(part, y) > 0.0f);
}

// C tile of NN_ROWS × NN_COLS at the work-item's position; `trans_a` selects A[K,M] storage.
// A narrow product (REGISTER_WIDTH ≤ N < NN_COLS) takes tiles of 2·NN_ROWS rows of one vector
// each: `hi` then holds rows NN_ROWS.. of the tile against the same columns as `lo` (the
// latent layers' products, N = 20, computed each column twice when `hi` repeated `lo`).
// `narrow` is a constant in each kernel that inlines this (matmul_nn, matmul_nn_narrow, …).
// Global dimension 0 walks the column tiles, or the row tiles when `rows_first` (the host picks
// the order in which the operand swept again and again is the one that stays in cache; see
// MatmulLaunchers.swift). Dimension 2 splits K: work-item z sums k in [z·k_chunk, (z+1)·k_chunk)
// into C + z·M·N (partial products that sum_partials adds up), so a long K is walked in pieces
// whose operands stay in cache; with one piece (k_chunk ≥ K) C is the product itself.
// The epilogue adds bias[N] when `has_bias` and applies the activation `act` (K in one piece;
// with several, sum_partials does it). With `adam` (a constant in adam_transposed_product*, K in
// one piece) C is a parameter and the tile its gradient: the epilogue takes an Adam step on C,
// m, v with hyperparameters h = (lr, beta1, beta2, epsilon) and bias corrections c1, c2. With
// `gradient` (a constant in matmul_nn_relu_gradient*, K in one piece) the tile is a
// gradient taken through a ReLU whose output is y [M, N]: it stores relu'(y) ⊙ (tile + acc)
// (acc [M, N] when `accumulate`, else nothing added).
__attribute__((always_inline)) inline void matmul_tile(__global float* C, __global const float* A, __global const float* B,
                                                       __global const float* bias, int M, int N, int K, int trans_a, int k_chunk,
                                                       int rows_first, int has_bias, int act, float slope, int narrow,
                                                       __global float* m, __global float* v, float4 h, float c1, float c2, int adam,
                                                       __global const float* y, __global const float* acc, int gradient, int accumulate) {
    int cols = narrow ? REGISTER_WIDTH : NN_COLS, tile_rows = narrow ? 2 * NN_ROWS : NN_ROWS, hi_row = narrow ? NN_ROWS : 0;
    int row_tile = get_global_id(rows_first ? 0 : 1), col_tile = get_global_id(rows_first ? 1 : 0);
    int row_start = row_tile * tile_rows, col_start = col_tile * cols;
    int k_begin = get_global_id(2) * k_chunk, k_end = min(K, k_begin + k_chunk);
    if (row_start >= M || col_start >= N || k_begin >= K) return;
    C += (size_t)get_global_id(2) * M * N;
    int r0 = min(row_start, M - tile_rows), c0 = min(col_start, N - cols);
    FOR_NN_ROWS(NN_ACCUMULATORS)
    // Element (row r0 + i, k) of op(A): A is [M, K] (row stride K) or [K, M] (row stride M).
    size_t a_row = trans_a ? 1 : (size_t)K, a_k = trans_a ? (size_t)M : 1;
    __global const float* a = A + (size_t)r0 * a_row + (size_t)k_begin * a_k;
#define NN_ROW(i) { \
    float ai = a[(i) * a_row], ah = a[((i) + hi_row) * a_row]; \
    block_lo##i = mul_add((floatR)(ai), b0, block_lo##i); \
    block_hi##i = mul_add((floatR)(ah), b1, block_hi##i); }
    for (int kb = k_begin; kb < k_end; kb += K_BLOCK) {
        FOR_NN_ROWS(NN_BLOCK_ACCUMULATORS)
        int kb_end = min(k_end, kb + K_BLOCK);
#pragma unroll 4
        for (int k = kb; k < kb_end; ++k, a += a_k) {
            __global const float* b = B + (size_t)k * N + c0;
            floatR b0 = vloadR(0, b), b1 = narrow ? b0 : vloadR(0, b + REGISTER_WIDTH);
            FOR_NN_ROWS(NN_ROW)
        }
        FOR_NN_ROWS(NN_ADD_BLOCK)
    }
#undef NN_ROW
    floatR bias_lo = 0.0f, bias_hi = 0.0f;
    if (has_bias) {
        bias_lo = vloadR(0, bias + c0);
        bias_hi = narrow ? bias_lo : vloadR(0, bias + c0 + REGISTER_WIDTH);
    }
    // Wide: row i is lo_i, hi_i. Narrow: row i is lo_i and row NN_ROWS + i is hi_i.
#define NN_PUT(row, lo, hi, blo, bhi) { \
    size_t at = (size_t)(row) * N + c0; \
    if (adam) adam_cols(C + at, m + at, v + at, lo, hi, col_start - c0, cols, h, c1, c2); \
    else if (gradient) store_cols(C + at, through_relu(lo, y + at, acc + at, 0, accumulate), \
                                  through_relu(hi, y + at, acc + at, narrow ? 0 : 1, accumulate), col_start - c0, cols); \
    else store_cols(C + at, activate_r(act, slope, (lo) + (blo)), activate_r(act, slope, (hi) + (bhi)), col_start - c0, cols); }
#define NN_STORE(i) \
    if (narrow) { \
        if (r0 + (i) >= row_start) NN_PUT(r0 + (i), lo##i, lo##i, bias_lo, bias_lo) \
        if (r0 + (i) + NN_ROWS >= row_start) NN_PUT(r0 + (i) + NN_ROWS, hi##i, hi##i, bias_lo, bias_lo) \
    } else if (r0 + (i) >= row_start) { \
        NN_PUT(r0 + (i), lo##i, hi##i, bias_lo, bias_hi) \
    }
    FOR_NN_ROWS(NN_STORE)
#undef NN_STORE
#undef NN_PUT
}

__kernel void matmul_nn(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                        int M, int N, int K, int k_chunk, int rows_first, int has_bias, int act, float slope) {
    matmul_tile(C, A, B, bias, M, N, K, 0, k_chunk, rows_first, has_bias, act, slope, 0, C, C, (float4)(0.0f), 0.0f, 0.0f, 0, C, C, 0, 0);
}

__kernel void matmul_tn(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                        int M, int N, int K, int k_chunk, int rows_first, int has_bias, int act, float slope) {
    matmul_tile(C, A, B, bias, M, N, K, 1, k_chunk, rows_first, has_bias, act, slope, 0, C, C, (float4)(0.0f), 0.0f, 0.0f, 0, C, C, 0, 0);
}

// The same with N under two vectors (NN_COLS): tiles of 2·NN_ROWS rows of one vector. Kernels
// of their own rather than a branch on N around the two forms, whose argument reads inside
// control flow drew Mesa's rusticl warning "Treating load_kernel_arg in control flow as uniform".
__kernel void matmul_nn_narrow(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                               int M, int N, int K, int k_chunk, int rows_first, int has_bias, int act, float slope) {
    matmul_tile(C, A, B, bias, M, N, K, 0, k_chunk, rows_first, has_bias, act, slope, 1, C, C, (float4)(0.0f), 0.0f, 0.0f, 0, C, C, 0, 0);
}

__kernel void matmul_tn_narrow(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                               int M, int N, int K, int k_chunk, int rows_first, int has_bias, int act, float slope) {
    matmul_tile(C, A, B, bias, M, N, K, 1, k_chunk, rows_first, has_bias, act, slope, 1, C, C, (float4)(0.0f), 0.0f, 0.0f, 0, C, C, 0, 0);
}

// dx = relu'(y) ⊙ (A·B [+ acc]): a dense layer's input gradient dY·W through the ReLU of the
// layer before it (y its output), with the gradient acc [M, N] that reaches the same tensor by
// another path added first when `accumulate`. `matmul_nn`'s tiles; K in one piece. ReLU only
// (other activations compose on the host): with an activation code as an argument, Mesa's
// rusticl warned "Treating load_kernel_arg in control flow as uniform".
__kernel void matmul_nn_relu_gradient(__global float* C, __global const float* A, __global const float* B, __global const float* y,
                                      __global const float* acc, int M, int N, int K, int rows_first, int accumulate) {
    matmul_tile(C, A, B, C, M, N, K, 0, K, rows_first, 0, ACTIVATION_IDENTITY, 0.0f, 0, C, C, (float4)(0.0f), 0.0f, 0.0f, 0, y, acc, 1,
                accumulate);
}

// The same with N under two vectors (matmul_nn_narrow's tiles).
__kernel void matmul_nn_relu_gradient_narrow(__global float* C, __global const float* A, __global const float* B, __global const float* y,
                                             __global const float* acc, int M, int N, int K, int rows_first, int accumulate) {
    matmul_tile(C, A, B, C, M, N, K, 0, K, rows_first, 0, ACTIVATION_IDENTITY, 0.0f, 1, C, C, (float4)(0.0f), 0.0f, 0.0f, 0, y, acc, 1,
                accumulate);
}

#if REGISTER_WIDTH == 16
// The lane sums of sixteen vectors as one vector (lane p = Σ lanes of the p-th argument), by
// halving: each level adds the two halves of pairs of vectors, 15 vector adds in all where 16
// separate `hsum`s take 64 (the dot-product tiles' epilogue).
__attribute__((always_inline)) inline float16 pair_halves(float16 a, float16 b) { return (float16)(a.lo, b.lo) + (float16)(a.hi, b.hi); }
__attribute__((always_inline)) inline float16 pair_quarters(float16 a, float16 b) {
    return (float16)(a.s0123, a.s89ab, b.s0123, b.s89ab) + (float16)(a.s4567, a.scdef, b.s4567, b.scdef);
}
__attribute__((always_inline)) inline float16 pair_eighths(float16 a, float16 b) {
    return (float16)(a.s01, a.s45, a.s89, a.scd, b.s01, b.s45, b.s89, b.scd) + (float16)(a.s23, a.s67, a.sab, a.sef, b.s23, b.s67, b.sab, b.sef);
}
__attribute__((always_inline)) inline float16 lane_sums16(float16 v0, float16 v1, float16 v2, float16 v3, float16 v4, float16 v5, float16 v6, float16 v7,
                                                  float16 v8, float16 v9, float16 v10, float16 v11, float16 v12, float16 v13, float16 v14, float16 v15) {
    // After pair_halves, lanes 0–7 hold 8 partial sums of the first vector, 8–15 of the second;
    // after pair_quarters 4 each of four vectors; after pair_eighths 2 each of eight.
    float16 a = pair_quarters(pair_halves(v0, v1), pair_halves(v2, v3)), b = pair_quarters(pair_halves(v4, v5), pair_halves(v6, v7));
    float16 c = pair_quarters(pair_halves(v8, v9), pair_halves(v10, v11)), d = pair_quarters(pair_halves(v12, v13), pair_halves(v14, v15));
    float16 lo = pair_eighths(a, b), hi = pair_eighths(c, d);
    return (float16)(lo.even, hi.even) + (float16)(lo.odd, hi.odd);
}
#endif

// NT_ROWS rows of A against NT_COLS rows of B: dot products along K in REGISTER_WIDTH lanes,
// summed at the end (with 16 lanes all 16 sums at once, `lane_sums16`: NT 128×784×400 on PoCL
// ~225 → ~255 GFLOP/s, best of interleaved runs), then bias and activation when `has_bias` /
// `act` ask for them.
// Dimension 2 splits K as in matmul_tile (partial products at C + z·M·N).
inline void dot_tile(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                     int M, int N, int K, int k_chunk, int has_bias, int act, float slope) {
    // Dimension 0 walks the rows of A: neighbouring work-groups share the same rows of B, so B
    // (the larger operand, the weights) is streamed from memory once while A stays in cache.
    int row_start = get_global_id(0) * NT_ROWS, col_start = get_global_id(1) * NT_COLS;
    int k_begin = get_global_id(2) * k_chunk, k_end = min(K, k_begin + k_chunk);
    if (row_start >= M || col_start >= N || k_begin >= K) return;
    C += (size_t)get_global_id(2) * M * N;
    int r0 = min(row_start, M - NT_ROWS), c0 = min(col_start, N - NT_COLS);
    __global const float* a0p = A + (size_t)r0 * K + k_begin;
    __global const float* a1p = a0p + K;
    __global const float* a2p = a1p + K;
#if NT_ROWS > 3
    __global const float* a3p = a2p + K;
#endif
    __global const float* b0p = B + (size_t)c0 * K + k_begin;
    __global const float* b1p = b0p + K;
    __global const float* b2p = b1p + K;
    __global const float* b3p = b2p + K;
    floatR s00 = 0.0f, s01 = 0.0f, s02 = 0.0f, s03 = 0.0f, s10 = 0.0f, s11 = 0.0f, s12 = 0.0f, s13 = 0.0f;
    floatR s20 = 0.0f, s21 = 0.0f, s22 = 0.0f, s23 = 0.0f;
#if NT_ROWS > 3
    floatR s30 = 0.0f, s31 = 0.0f, s32 = 0.0f, s33 = 0.0f;
#endif
    int k8 = (k_end - k_begin) & ~(REGISTER_WIDTH - 1);
#pragma unroll 2
    for (int k = 0; k < k8; k += REGISTER_WIDTH) {
        floatR a0 = vloadR(0, a0p + k), a1 = vloadR(0, a1p + k), a2 = vloadR(0, a2p + k);
        floatR b0 = vloadR(0, b0p + k), b1 = vloadR(0, b1p + k), b2 = vloadR(0, b2p + k), b3 = vloadR(0, b3p + k);
        s00 = mul_add(a0, b0, s00); s01 = mul_add(a0, b1, s01); s02 = mul_add(a0, b2, s02); s03 = mul_add(a0, b3, s03);
        s10 = mul_add(a1, b0, s10); s11 = mul_add(a1, b1, s11); s12 = mul_add(a1, b2, s12); s13 = mul_add(a1, b3, s13);
        s20 = mul_add(a2, b0, s20); s21 = mul_add(a2, b1, s21); s22 = mul_add(a2, b2, s22); s23 = mul_add(a2, b3, s23);
#if NT_ROWS > 3
        floatR a3 = vloadR(0, a3p + k);
        s30 = mul_add(a3, b0, s30); s31 = mul_add(a3, b1, s31); s32 = mul_add(a3, b2, s32); s33 = mul_add(a3, b3, s33);
#endif
    }
#if REGISTER_WIDTH == 16
    float16 tile = lane_sums16(s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33);
    if (r0 == row_start && c0 == col_start && k8 == k_end - k_begin) {
        // The whole tile is this work-item's and K has no remainder: bias, activation and
        // stores on the tile's 16 values at once (lane 4i + j is row i, column j).
        float4 b = has_bias ? vload4(0, bias + c0) : (float4)0.0f;
        tile = activate_r(act, slope, tile + (float16)(b, b, b, b));
        __global float* c = C + (size_t)r0 * N + c0;
        vstore4(tile.s0123, 0, c);
        vstore4(tile.s4567, 0, c + N);
        vstore4(tile.s89ab, 0, c + 2 * N);
        vstore4(tile.scdef, 0, c + 3 * N);
        return;
    }
    // Spelled out: a vstore16 through &sums[0][0] writes past the first row, which a compiler
    // may assume it does not (Mesa's rusticl then returned wrong sums).
    float sums[NT_ROWS][NT_COLS] = {{tile.s0, tile.s1, tile.s2, tile.s3}, {tile.s4, tile.s5, tile.s6, tile.s7},
                                    {tile.s8, tile.s9, tile.sa, tile.sb}, {tile.sc, tile.sd, tile.se, tile.sf}};
#else
    float sums[NT_ROWS][NT_COLS] = {
        {hsum(s00), hsum(s01), hsum(s02), hsum(s03)},
        {hsum(s10), hsum(s11), hsum(s12), hsum(s13)},
        {hsum(s20), hsum(s21), hsum(s22), hsum(s23)},
#if NT_ROWS > 3
        {hsum(s30), hsum(s31), hsum(s32), hsum(s33)},
#endif
    };
#endif
    for (int i = 0; i < NT_ROWS; ++i) {
        int r = r0 + i;
        if (r < row_start) continue;
        for (int j = 0; j < NT_COLS; ++j) {
            int c = c0 + j;
            if (c < col_start) continue;
            float s = sums[i][j];
            for (int k = k_begin + k8; k < k_end; ++k) s = mul_add(A[(size_t)r * K + k], B[(size_t)c * K + k], s);
            if (has_bias) s += bias[c];
            C[(size_t)r * N + c] = activate(act, slope, s);
        }
    }
}

__kernel void matmul_nt(__global float* C, __global const float* A, __global const float* B, int M, int N, int K, int k_chunk) {
    dot_tile(C, A, B, A, M, N, K, k_chunk, 0, ACTIVATION_IDENTITY, 0.0f);
}

// The fused layer: C = act(A·Wᵀ + bias), `act` an ACTIVATION_* code (K in one piece).
__kernel void linear_nt(__global float* C, __global const float* A, __global const float* W, __global const float* bias,
                        int M, int N, int K, int act, float slope) {
    dot_tile(C, A, W, bias, M, N, K, K, 1, act, slope);
}

// C[M, N] = act(A·Bᵀ + bias) with one dot product per work-item, along K in REGISTER_WIDTH
// lanes: NT products with fewer rows than a tile (a single example's encoder; one scalar
// chain of K multiply-adds per output in matmul_generic). Range (column, row).
__kernel void matmul_nt_dots(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                             int M, int N, int K, int has_bias, int act, float slope) {
    int j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    __global const float* a = A + (size_t)i * K;
    __global const float* b = B + (size_t)j * K;
    floatR lanes = 0.0f;
    int whole = K & ~(REGISTER_WIDTH - 1);
    for (int k = 0; k < whole; k += REGISTER_WIDTH) lanes = mul_add(vloadR(0, a + k), vloadR(0, b + k), lanes);
    float s = hsum(lanes);
    for (int k = whole; k < K; ++k) s = mul_add(a[k], b[k], s);
    C[(size_t)i * N + j] = activate(act, slope, s + (has_bias ? bias[j] : 0.0f));
}

// C[M, N] = act(Σ_z partials[z, M, N] + bias[N]), z in increasing order: the pieces of a
// product split along K (matmul_tile, dot_tile). One work-item per element.
__kernel void sum_partials(__global float* C, __global const float* partials, __global const float* bias,
                           int M, int N, int pieces, int has_bias, int act, float slope) {
    int j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    size_t e = (size_t)i * N + j, stride = (size_t)M * N;
    float s = partials[e];
    for (int z = 1; z < pieces; ++z) s += partials[e + z * stride];
    C[e] = activate(act, slope, s + (has_bias ? bias[j] : 0.0f));
}

// One element of C per work-item (global id 0 = column, 1 = row), any transposes, optional bias
// and activation: for matrices smaller than a tile and for Aᵀ·Bᵀ.
__kernel void matmul_generic(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                             int M, int N, int K, int trans_a, int trans_b, int has_bias, int act, float slope) {
    int j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    float s = 0.0f;
    for (int kb = 0; kb < K; kb += K_BLOCK) {
        float block = 0.0f;
        for (int k = kb; k < min(K, kb + K_BLOCK); ++k) {
            float a = trans_a ? A[(size_t)k * M + i] : A[(size_t)i * K + k];
            float b = trans_b ? B[(size_t)j * K + k] : B[(size_t)k * N + j];
            block = mul_add(a, b, block);
        }
        s += block;
    }
    if (has_bias) s += bias[j];
    C[(size_t)i * N + j] = activate(act, slope, s);
}
