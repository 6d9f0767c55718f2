// Matrix products, row-major: twins of CPUBackend/CPUMatmul.swift (cblas_sgemm).
//   matmul_nn: C[M,N] = A[M,K]·B[K,N]      matmul_tn: C = A[K,M]ᵀ·B[K,N]
//   matmul_nt: C = A[M,K]·B[N,K]ᵀ           linear_nt: C = act(A·Bᵀ + bias), the fused layer
//   matmul_generic: any transposes and sizes, one output per work-item (small or odd shapes)
// The blocked kernels keep a tile of C in registers and need no local memory or barriers. A tile
// that would cross the matrix edge is shifted back inside (it overlaps its neighbour), computed
// on the fast path, and stores only the part that is its own; so any M, N, K ≥ 1 works as long
// as M and N are at least one tile (the host uses matmul_generic otherwise).
// Tile sizes are build options so each device type gets its own.

#ifndef NN_ROWS
#define NN_ROWS 6          // rows of C per work-item in matmul_nn / matmul_tn (16 columns each)
#endif
#define NN_COLS 16
#define NT_ROWS 3          // A rows × B rows per work-item in the dot-product (NT) kernels
#define NT_COLS 4

// C tile of NN_ROWS × 16 at the work-item's position; `trans_a` selects A[K,M] storage.
inline void matmul_x16(__global float* C, __global const float* A, __global const float* B,
                       int M, int N, int K, int trans_a) {
    int row_start = get_global_id(1) * NN_ROWS, col_start = get_global_id(0) * NN_COLS;
    if (row_start >= M || col_start >= N) return;
    int r0 = min(row_start, M - NN_ROWS), c0 = min(col_start, N - NN_COLS);
    float8 lo[NN_ROWS], hi[NN_ROWS];
    for (int i = 0; i < NN_ROWS; ++i) { lo[i] = (float8)(0.0f); hi[i] = (float8)(0.0f); }
    for (int k = 0; k < K; ++k) {
        __global const float* b = B + (size_t)k * N + c0;
        float8 b0 = vload8(0, b), b1 = vload8(1, b);
        for (int i = 0; i < NN_ROWS; ++i) {
            float a = trans_a ? A[(size_t)k * M + r0 + i] : A[(size_t)(r0 + i) * K + k];
            lo[i] = mad((float8)(a), b0, lo[i]);
            hi[i] = mad((float8)(a), b1, hi[i]);
        }
    }
    for (int i = 0; i < NN_ROWS; ++i) {
        int r = r0 + i;
        if (r < row_start) continue;
        __global float* c = C + (size_t)r * N + c0;
        if (c0 == col_start) {
            vstore8(lo[i], 0, c);
            vstore8(hi[i], 1, c);
        } else {
            float v[NN_COLS];
            vstore8(lo[i], 0, v);
            vstore8(hi[i], 1, v);
            for (int j = col_start - c0; j < NN_COLS; ++j) c[j] = v[j];
        }
    }
}

__kernel void matmul_nn(__global float* C, __global const float* A, __global const float* B, int M, int N, int K) {
    matmul_x16(C, A, B, M, N, K, 0);
}

__kernel void matmul_tn(__global float* C, __global const float* A, __global const float* B, int M, int N, int K) {
    matmul_x16(C, A, B, M, N, K, 1);
}

// NT_ROWS rows of A against NT_COLS rows of B: dot products along K in float8 lanes, summed at
// the end, then bias and activation when `has_bias` / `act` ask for them.
inline void dot_tile(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                     int M, int N, int K, int has_bias, int act, float slope) {
    int row_start = get_global_id(1) * NT_ROWS, col_start = get_global_id(0) * NT_COLS;
    if (row_start >= M || col_start >= N) return;
    int r0 = min(row_start, M - NT_ROWS), c0 = min(col_start, N - NT_COLS);
    float8 acc[NT_ROWS][NT_COLS];
    for (int i = 0; i < NT_ROWS; ++i)
        for (int j = 0; j < NT_COLS; ++j) acc[i][j] = (float8)(0.0f);
    int k8 = K & ~7;
    for (int k = 0; k < k8; k += 8) {
        float8 a[NT_ROWS], b[NT_COLS];
        for (int i = 0; i < NT_ROWS; ++i) a[i] = vload8(0, A + (size_t)(r0 + i) * K + k);
        for (int j = 0; j < NT_COLS; ++j) b[j] = vload8(0, B + (size_t)(c0 + j) * K + k);
        for (int i = 0; i < NT_ROWS; ++i)
            for (int j = 0; j < NT_COLS; ++j) acc[i][j] = mad(a[i], b[j], acc[i][j]);
    }
    for (int i = 0; i < NT_ROWS; ++i) {
        int r = r0 + i;
        if (r < row_start) continue;
        for (int j = 0; j < NT_COLS; ++j) {
            int c = c0 + j;
            if (c < col_start) continue;
            float8 s8 = acc[i][j];
            float4 s4 = s8.lo + s8.hi;
            float s = (s4.x + s4.y) + (s4.z + s4.w);
            for (int k = k8; k < K; ++k) s = mad(A[(size_t)r * K + k], B[(size_t)c * K + k], s);
            if (has_bias) s += bias[c];
            C[(size_t)r * N + c] = activate(act, slope, s);
        }
    }
}

__kernel void matmul_nt(__global float* C, __global const float* A, __global const float* B, int M, int N, int K) {
    dot_tile(C, A, B, A, M, N, K, 0, 0, 0.0f);
}

__kernel void linear_nt(__global float* C, __global const float* A, __global const float* W, __global const float* bias,
                        int M, int N, int K, int act, float slope) {
    dot_tile(C, A, W, bias, M, N, K, 1, act, slope);
}

// One element of C per work-item (global id 0 = column, 1 = row), any transposes, optional bias
// and activation: for matrices smaller than a tile and for Aᵀ·Bᵀ.
__kernel void matmul_generic(__global float* C, __global const float* A, __global const float* B, __global const float* bias,
                             int M, int N, int K, int trans_a, int trans_b, int has_bias, int act, float slope) {
    int j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    float s = 0.0f;
    for (int k = 0; k < K; ++k) {
        float a = trans_a ? A[(size_t)k * M + i] : A[(size_t)i * K + k];
        float b = trans_b ? B[(size_t)j * K + k] : B[(size_t)k * N + j];
        s = mad(a, b, s);
    }
    if (has_bias) s += bias[j];
    C[(size_t)i * N + j] = activate(act, slope, s);
}
