// The B of NT products transposed (row-major; the CPU structure, like matmul.cl, whose
// NN_ROWS / NN_COLS tiles and store_cols it uses):
//   transpose: dst = srcᵀ, a pass of its own (for NT products taken through matmul_nn)
//   matmul_nt_panel: C = act(A[M,K]·B[N,K]ᵀ + bias), B transposed panel by panel in local memory
// Both move REGISTER_WIDTH × REGISTER_WIDTH blocks: the block's rows loaded as vectors and
// transposed in registers by log2(REGISTER_WIDTH) rounds of zips (row k of a round = the zip of
// rows k/2 and k/2 + W/2 of the round before: its low halves for even k, high halves for odd
// k), then stored as vectors.

#if REGISTER_WIDTH == 16
__attribute__((always_inline)) inline float16 zip_lo(float16 a, float16 b) {
    return (float16)(a.s0, b.s0, a.s1, b.s1, a.s2, b.s2, a.s3, b.s3, a.s4, b.s4, a.s5, b.s5, a.s6, b.s6, a.s7, b.s7);
}
__attribute__((always_inline)) inline float16 zip_hi(float16 a, float16 b) {
    return (float16)(a.s8, b.s8, a.s9, b.s9, a.sa, b.sa, a.sb, b.sb, a.sc, b.sc, a.sd, b.sd, a.se, b.se, a.sf, b.sf);
}
#define ZIP_ROUND(d, s) \
    d##0 = zip_lo(s##0, s##8);  d##1 = zip_hi(s##0, s##8);   d##2 = zip_lo(s##1, s##9);   d##3 = zip_hi(s##1, s##9); \
    d##4 = zip_lo(s##2, s##10); d##5 = zip_hi(s##2, s##10);  d##6 = zip_lo(s##3, s##11);  d##7 = zip_hi(s##3, s##11); \
    d##8 = zip_lo(s##4, s##12); d##9 = zip_hi(s##4, s##12);  d##10 = zip_lo(s##5, s##13); d##11 = zip_hi(s##5, s##13); \
    d##12 = zip_lo(s##6, s##14); d##13 = zip_hi(s##6, s##14); d##14 = zip_lo(s##7, s##15); d##15 = zip_hi(s##7, s##15);
#define FOR_BLOCK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define BLOCK_ZIPS ZIP_ROUND(t, r) ZIP_ROUND(r, t) ZIP_ROUND(t, r) ZIP_ROUND(r, t)
#define BLOCK_STORE(k) vstoreR(r##k, 0, d + (size_t)(k) * ld);
#else
__attribute__((always_inline)) inline float8 zip_lo(float8 a, float8 b) { return (float8)(a.s0, b.s0, a.s1, b.s1, a.s2, b.s2, a.s3, b.s3); }
__attribute__((always_inline)) inline float8 zip_hi(float8 a, float8 b) { return (float8)(a.s4, b.s4, a.s5, b.s5, a.s6, b.s6, a.s7, b.s7); }
#define ZIP_ROUND(d, s) \
    d##0 = zip_lo(s##0, s##4); d##1 = zip_hi(s##0, s##4); d##2 = zip_lo(s##1, s##5); d##3 = zip_hi(s##1, s##5); \
    d##4 = zip_lo(s##2, s##6); d##5 = zip_hi(s##2, s##6); d##6 = zip_lo(s##3, s##7); d##7 = zip_hi(s##3, s##7);
#define FOR_BLOCK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define BLOCK_ZIPS ZIP_ROUND(t, r) ZIP_ROUND(r, t) ZIP_ROUND(t, r)
#define BLOCK_STORE(k) vstoreR(t##k, 0, d + (size_t)(k) * ld);
#endif

// The block at s (row stride ls) transposed to d (row stride ld); s, ls, d and ld are the
// caller's variables (d global or local).
#define BLOCK_LOAD(k) floatR r##k = vloadR(0, s + (size_t)(k) * ls), t##k;
#define TRANSPOSE_BLOCK { FOR_BLOCK_ROWS(BLOCK_LOAD) BLOCK_ZIPS FOR_BLOCK_ROWS(BLOCK_STORE) }

// dst[C, R] = src[R, C]ᵀ, one block per work-item (range: column block, row block); the blocks
// on the bottom and right edges one value at a time.
__kernel void transpose(__global float* dst, __global const float* src, int R, int C) {
    int j0 = get_global_id(0) * REGISTER_WIDTH, i0 = get_global_id(1) * REGISTER_WIDTH;
    if (i0 >= R || j0 >= C) return;
    if (i0 + REGISTER_WIDTH <= R && j0 + REGISTER_WIDTH <= C) {
        __global const float* s = src + (size_t)i0 * C + j0;
        __global float* d = dst + (size_t)j0 * R + i0;
        size_t ls = C, ld = R;
        TRANSPOSE_BLOCK
        return;
    }
    for (int j = j0; j < min(C, j0 + REGISTER_WIDTH); ++j)
        for (int i = i0; i < min(R, i0 + REGISTER_WIDTH); ++i) dst[(size_t)j * R + i] = src[(size_t)i * C + j];
}

// C[M, N] = act(A[M, K]·B[N, K]ᵀ + bias[N]) through panels of B: work-group (g, p) takes the
// NN_COLS columns of C from c0 = p·NN_COLS on (shifted back at the right edge). It first
// transposes rows c0 … c0 + NN_COLS − 1 of B into local memory, panel[k][j] = B[c0 + j][k]
// (in blocks, as above); then each of its
// L work-items computes NN_ROWS × NN_COLS tiles of C as matmul_tile does, with B read from the
// panel: row tiles g·L + l, (g + G)·L + l, … (G groups along dimension 0). The transposition
// is paid in cache, once per panel and group, instead of in a pass of its own over B.
__kernel void matmul_nt_panel(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                              __local float* panel, int M, int N, int K, int has_bias, int act, float slope) {
    int col_start = get_group_id(1) * NN_COLS, c0 = min(col_start, N - NN_COLS);
    int item = get_local_id(0), items = get_local_size(0);
    int k_blocks = (K + REGISTER_WIDTH - 1) / REGISTER_WIDTH;
    for (int q = item; q < (NN_COLS / REGISTER_WIDTH) * k_blocks; q += items) {
        int jb = (q % (NN_COLS / REGISTER_WIDTH)) * REGISTER_WIDTH, k0 = (q / (NN_COLS / REGISTER_WIDTH)) * REGISTER_WIDTH;
        __global const float* s = B + (size_t)(c0 + jb) * K + k0;
        __local float* d = panel + k0 * NN_COLS + jb;
        if (k0 + REGISTER_WIDTH <= K) {
            size_t ls = K, ld = NN_COLS;
            TRANSPOSE_BLOCK
        } else {
            for (int k = 0; k < K - k0; ++k)
                for (int j = 0; j < REGISTER_WIDTH; ++j) d[k * NN_COLS + j] = s[(size_t)j * K + k];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    int row_tiles = (M + NN_ROWS - 1) / NN_ROWS;
    for (int t = get_group_id(0) * items + item; t < row_tiles; t += get_num_groups(0) * items) {
        int row_start = t * NN_ROWS, r0 = min(row_start, M - NN_ROWS);
        FOR_NN_ROWS(NN_ACCUMULATORS)
        __global const float* a = A + (size_t)r0 * K;
#define NN_ROW(i) { float ai = a[(size_t)(i) * K]; \
    block_lo##i = mul_add((floatR)(ai), b0, block_lo##i); block_hi##i = mul_add((floatR)(ai), b1, block_hi##i); }
        for (int kb = 0; kb < K; kb += K_BLOCK) {  // chains of at most K_BLOCK, as in matmul_tile
            FOR_NN_ROWS(NN_BLOCK_ACCUMULATORS)
            int kb_end = min(K, kb + K_BLOCK);
#pragma unroll 4
            for (int k = kb; k < kb_end; ++k, ++a) {
                floatR b0 = vloadR(0, panel + k * NN_COLS), b1 = vloadR(1, panel + k * NN_COLS);
                FOR_NN_ROWS(NN_ROW)
            }
            FOR_NN_ROWS(NN_ADD_BLOCK)
        }
#undef NN_ROW
        floatR bias_lo = has_bias ? vloadR(0, bias + c0) : (floatR)0.0f, bias_hi = has_bias ? vloadR(1, bias + c0) : (floatR)0.0f;
#define NN_STORE(i) if (r0 + (i) >= row_start) \
        store_cols(C + (size_t)(r0 + (i)) * N + c0, activate_r(act, slope, lo##i + bias_lo), activate_r(act, slope, hi##i + bias_hi), col_start - c0, NN_COLS);
        FOR_NN_ROWS(NN_STORE)
#undef NN_STORE
    }
}

#undef ZIP_ROUND
#undef FOR_BLOCK_ROWS
#undef BLOCK_ZIPS
#undef BLOCK_LOAD
#undef BLOCK_STORE
#undef TRANSPOSE_BLOCK
