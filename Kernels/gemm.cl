// The GPU structure's matrix product (TileConfiguration.gemmTiles): every product on a GPU.
// Row-major, as in matmul.cl (the CPU structure's kernels); launcher in GemmLaunchers.swift.

// The GPU structure: local-memory tiles (the shape of CLBlast's Xgemm, without its vector
// widths). A work-group computes a GEMM_TM × GEMM_TN tile of C = act(op(A)·op(B) + bias),
// staging GEMM_TK-deep slices of op(A) and op(B) in local memory; each work-item keeps a
// GEMM_WM × GEMM_WN block of C in registers, its rows ly apart and its columns lx apart, so
// neighbouring work-items read neighbouring local words and store neighbouring columns.
// Loads are coalesced along each operand's contiguous axis, the slices padded by one word
// against bank conflicts. Any M, N, K ≥ 1 and any transposes: loads outside the matrices read
// zeros and stores outside are skipped. Tile sizes are build options chosen per device
// (TileConfiguration); the defaults below only keep CPU-configuration builds complete.
#ifndef GEMM_TM
#define GEMM_TM 32
#define GEMM_TN 32
#define GEMM_TK 8
#define GEMM_WM 4
#define GEMM_WN 4
#endif
#ifndef GEMM_VW
#define GEMM_VW 1          // floats per global load of a tile: 1, 2 or 4
#endif
#if GEMM_VW == 4
#define GEMM_VLOAD vload4
#define GEMM_VEC float4
#elif GEMM_VW == 2
#define GEMM_VLOAD vload2
#define GEMM_VEC float2
#endif
#define GEMM_BLOCK_SLICES (K_BLOCK >= GEMM_TK ? K_BLOCK / GEMM_TK : 1)
#define GEMM_LX (GEMM_TN / GEMM_WN)
#define GEMM_LY (GEMM_TM / GEMM_WM)

#if GEMM_VW > 1
// GEMM_VW consecutive floats from p into v: one vector load (vloadN needs only float alignment)
// when the line is inside the matrix (`line_ok`) and `left` ≥ GEMM_VW floats remain along it,
// else one by one, 0 past the edge.
inline void gemm_load(__global const float* p, int line_ok, int left, float* v) {
    if (line_ok && left >= GEMM_VW) {
        GEMM_VEC x = GEMM_VLOAD(0, p);
        v[0] = x.s0; v[1] = x.s1;
#if GEMM_VW == 4
        v[2] = x.s2; v[3] = x.s3;
#endif
    } else {
        for (int t = 0; t < GEMM_VW; ++t) v[t] = line_ok && t < left ? p[t] : 0.0f;
    }
}
#endif

__kernel __attribute__((reqd_work_group_size(GEMM_LX, GEMM_LY, 1)))
void gemm_tiled(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                int M, int N, int K, int trans_a, int trans_b, int has_bias, int act, float slope) {
    __local float As[GEMM_TK][GEMM_TM + 1];  // As[k][m] = op(A)[m0 + m, k0 + k]
    __local float Bs[GEMM_TK][GEMM_TN + 1];  // Bs[k][n] = op(B)[k0 + k, n0 + n]
    const int tx = get_local_id(0), ty = get_local_id(1), id = ty * GEMM_LX + tx;
    const int m0 = get_group_id(1) * GEMM_TM, n0 = get_group_id(0) * GEMM_TN;
    // part: the sums of the current block of GEMM_BLOCK_SLICES slices (K_BLOCK values of k
    // rounded to whole slices, see common.cl), added to the running totals acc as each block ends.
    float acc[GEMM_WM][GEMM_WN], part[GEMM_WM][GEMM_WN];
#pragma unroll
    for (int i = 0; i < GEMM_WM; ++i)
#pragma unroll
        for (int j = 0; j < GEMM_WN; ++j) acc[i][j] = part[i][j] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += GEMM_TK) {
#if GEMM_VW == 1
        for (int e = id; e < GEMM_TM * GEMM_TK; e += GEMM_LX * GEMM_LY) {
            int m = trans_a ? e % GEMM_TM : e / GEMM_TK, k = trans_a ? e / GEMM_TM : e % GEMM_TK;
            int gm = m0 + m, gk = k0 + k;
            As[k][m] = gm < M && gk < K ? (trans_a ? A[(size_t)gk * M + gm] : A[(size_t)gm * K + gk]) : 0.0f;
        }
        for (int e = id; e < GEMM_TN * GEMM_TK; e += GEMM_LX * GEMM_LY) {
            int n = trans_b ? e / GEMM_TK : e % GEMM_TN, k = trans_b ? e % GEMM_TK : e / GEMM_TN;
            int gn = n0 + n, gk = k0 + k;
            Bs[k][n] = gn < N && gk < K ? (trans_b ? B[(size_t)gn * K + gk] : B[(size_t)gk * N + gn]) : 0.0f;
        }
#else
        // GEMM_VW consecutive floats along each operand's contiguous axis per load (gemm_load).
        for (int e = id; e < GEMM_TM * GEMM_TK / GEMM_VW; e += GEMM_LX * GEMM_LY) {
            float v[GEMM_VW];
            if (trans_a) {  // A is [K, M]: GEMM_VW rows of op(A) at one k
                int m = (e % (GEMM_TM / GEMM_VW)) * GEMM_VW, k = e / (GEMM_TM / GEMM_VW), gm = m0 + m, gk = k0 + k;
                gemm_load(A + (size_t)gk * M + gm, gk < K, M - gm, v);
                for (int t = 0; t < GEMM_VW; ++t) As[k][m + t] = v[t];
            } else {  // A is [M, K]: GEMM_VW values of k in one row
                int k = (e % (GEMM_TK / GEMM_VW)) * GEMM_VW, m = e / (GEMM_TK / GEMM_VW), gm = m0 + m, gk = k0 + k;
                gemm_load(A + (size_t)gm * K + gk, gm < M, K - gk, v);
                for (int t = 0; t < GEMM_VW; ++t) As[k + t][m] = v[t];
            }
        }
        for (int e = id; e < GEMM_TN * GEMM_TK / GEMM_VW; e += GEMM_LX * GEMM_LY) {
            float v[GEMM_VW];
            if (trans_b) {  // B is [N, K]: GEMM_VW values of k in one row
                int k = (e % (GEMM_TK / GEMM_VW)) * GEMM_VW, n = e / (GEMM_TK / GEMM_VW), gn = n0 + n, gk = k0 + k;
                gemm_load(B + (size_t)gn * K + gk, gn < N, K - gk, v);
                for (int t = 0; t < GEMM_VW; ++t) Bs[k + t][n] = v[t];
            } else {  // B is [K, N]: GEMM_VW columns at one k
                int n = (e % (GEMM_TN / GEMM_VW)) * GEMM_VW, k = e / (GEMM_TN / GEMM_VW), gn = n0 + n, gk = k0 + k;
                gemm_load(B + (size_t)gk * N + gn, gk < K, N - gn, v);
                for (int t = 0; t < GEMM_VW; ++t) Bs[k][n + t] = v[t];
            }
        }
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < GEMM_TK; ++k) {
            float a[GEMM_WM], b[GEMM_WN];
#pragma unroll
            for (int i = 0; i < GEMM_WM; ++i) a[i] = As[k][ty + i * GEMM_LY];
#pragma unroll
            for (int j = 0; j < GEMM_WN; ++j) b[j] = Bs[k][tx + j * GEMM_LX];
#pragma unroll
            for (int i = 0; i < GEMM_WM; ++i)
#pragma unroll
                for (int j = 0; j < GEMM_WN; ++j) part[i][j] = mul_add(a[i], b[j], part[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if ((k0 / GEMM_TK + 1) % GEMM_BLOCK_SLICES == 0 || k0 + GEMM_TK >= K) {
#pragma unroll
            for (int i = 0; i < GEMM_WM; ++i)
#pragma unroll
                for (int j = 0; j < GEMM_WN; ++j) {
                    acc[i][j] += part[i][j];
                    part[i][j] = 0.0f;
                }
        }
    }
#pragma unroll
    for (int i = 0; i < GEMM_WM; ++i) {
        int gm = m0 + ty + i * GEMM_LY;
#pragma unroll
        for (int j = 0; j < GEMM_WN; ++j) {
            int gn = n0 + tx + j * GEMM_LX;
            if (gm < M && gn < N) C[(size_t)gm * N + gn] = activate(act, slope, acc[i][j] + (has_bias ? bias[gn] : 0.0f));
        }
    }
}
