import Engine

/// Launchers of Kernels/matmul.cl (row-major matrices; see the file's header for the tiles),
/// and `gemm`, which picks one of them for a product.
extension OpenCLBackend {
    /// C[M, N] = op(A)·op(B) (+ bias, activation): on GPUs the local-memory kernel; on CPU
    /// devices the register-tiled kernel for the layout when the matrix holds at least one
    /// tile, else the one-element-per-work-item kernel.
    func gemm(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int,
              transposeA: Bool, transposeB: Bool, activation: Activation) throws(OpenCLError) {
        if let t = tiles.gemmTiles {
            return try gemm_tiled(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                                  activation: activation, tiles: t)
        }
        switch (transposeA, transposeB) {
        case (false, true) where m >= 3 && n >= 4:
            if let bias {
                try linear_nt(c: c, a: a, w: b, bias: bias, m: m, n: n, k: k, activation: activation)
            } else {
                try matmul_nt(c: c, a: a, b: b, m: m, n: n, k: k)
            }
        case (false, false) where m >= tiles.nnRows && n >= tiles.registerWidth && bias == nil:
            try matmul_nn(c: c, a: a, b: b, m: m, n: n, k: k)
        case (true, false) where m >= tiles.nnRows && n >= tiles.registerWidth && bias == nil:
            try matmul_tn(c: c, a: a, b: b, m: m, n: n, k: k)
        default:
            try matmul_generic(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                               activation: activation)
        }
    }

    /// C[M, N] = A[M, K]·B[K, N], NN_ROWS × NN_COLS register tiles (one vector wide when N is
    /// narrower than two); M ≥ `tiles.nnRows`, N ≥ `tiles.registerWidth`.
    func matmul_nn(c: CLBuffer, a: CLBuffer, b: CLBuffer, m: Int, n: Int, k: Int) throws(OpenCLError) {
        try enqueue(.matmul_nn, [.buffer(c), .buffer(a), .buffer(b)] + (try ints("matmul_nn", [m, n, k])),
                    global: [tiles.nnTiles(columns: n), (m + tiles.nnRows - 1) / tiles.nnRows], local: tiles.local2D)
    }

    /// C[M, N] = A[K, M]ᵀ·B[K, N], the same tiles as `matmul_nn`.
    func matmul_tn(c: CLBuffer, a: CLBuffer, b: CLBuffer, m: Int, n: Int, k: Int) throws(OpenCLError) {
        try enqueue(.matmul_tn, [.buffer(c), .buffer(a), .buffer(b)] + (try ints("matmul_tn", [m, n, k])),
                    global: [tiles.nnTiles(columns: n), (m + tiles.nnRows - 1) / tiles.nnRows], local: tiles.local2D)
    }

    /// C[M, N] = A[M, K]·B[N, K]ᵀ, 3 × 4 dot-product tiles; M ≥ 3, N ≥ 4.
    func matmul_nt(c: CLBuffer, a: CLBuffer, b: CLBuffer, m: Int, n: Int, k: Int) throws(OpenCLError) {
        try enqueue(.matmul_nt, [.buffer(c), .buffer(a), .buffer(b)] + (try ints("matmul_nt", [m, n, k])),
                    global: [(m + 2) / 3, (n + 3) / 4], local: ntLocal)
    }

    /// C[M, N] = act(A[M, K]·W[N, K]ᵀ + bias[N]), the fused layer, tiled as `matmul_nt`.
    func linear_nt(c: CLBuffer, a: CLBuffer, w: CLBuffer, bias: CLBuffer, m: Int, n: Int, k: Int,
                   activation: Activation) throws(OpenCLError) {
        try enqueue(.linear_nt, [.buffer(c), .buffer(a), .buffer(w), .buffer(bias)] + (try ints("linear_nt", [m, n, k]))
                    + [.int(activation.kernelCode), .float(activation.kernelSlope)],
                    global: [(m + 2) / 3, (n + 3) / 4], local: ntLocal)
    }

    /// C[M, N] = act(op(A)·op(B) + bias), one element per work-item: any shape and transposes.
    func matmul_generic(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int,
                        transposeA: Bool, transposeB: Bool, activation: Activation) throws(OpenCLError) {
        try enqueue(.matmul_generic, [.buffer(c), .buffer(a), .buffer(b), .buffer(bias ?? a)] + (try ints("matmul_generic", [m, n, k]))
                    + [.int(transposeA ? 1 : 0), .int(transposeB ? 1 : 0), .int(bias == nil ? 0 : 1),
                       .int(activation.kernelCode), .float(activation.kernelSlope)],
                    global: [n, m], local: [1, 1])
    }

    /// C[M, N] = act(op(A)·op(B) + bias), local-memory tiles (the GPU structure): any shape and transposes.
    func gemm_tiled(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int,
                    transposeA: Bool, transposeB: Bool, activation: Activation, tiles t: GEMMTiles) throws(OpenCLError) {
        let groups = [(n + t.tn - 1) / t.tn, (m + t.tm - 1) / t.tm]
        try enqueue(.gemm_tiled, [.buffer(c), .buffer(a), .buffer(b), .buffer(bias ?? a)] + (try ints("gemm_tiled", [m, n, k]))
                    + [.int(transposeA ? 1 : 0), .int(transposeB ? 1 : 0), .int(bias == nil ? 0 : 1),
                       .int(activation.kernelCode), .float(activation.kernelSlope)],
                    global: [groups[0] * t.workGroup[0], groups[1] * t.workGroup[1]], local: t.workGroup)
    }

    /// Dimension 0 of the NT kernels walks rows (see dot_tile), so the 2-D group is swapped.
    private var ntLocal: [Int] { [tiles.local2D[1], tiles.local2D[0]] }
}
