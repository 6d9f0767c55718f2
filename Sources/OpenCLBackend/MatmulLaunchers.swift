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
        let split = KSplit(k: k)
        let fitsTiles = m >= tiles.nnRows && n >= tiles.registerWidth
        // The register-tiled kernels other than linear_nt write A·B only: with K in several
        // pieces, or a bias or activation to apply, they write partial products that
        // sum_partials adds up, then adds the bias and applies the activation.
        let epilogue = bias != nil || activation != .identity
        func target(fused: Bool) throws(OpenCLError) -> CLBuffer {
            split.pieces > 1 || (epilogue && !fused) ? try scratchBuffer(slot: Self.partialsSlot, bytes: split.pieces * m * n * 4) : c
        }
        switch (transposeA, transposeB) {
        case (false, true) where fitsTiles && k < 4 * tiles.registerWidth:
            // A short K (the decoder's first layer, K = the latent size) in the dot-product form is
            // mostly its scalar remainder (NT 128×400×20: 9 GFLOP/s): B [N, K] is transposed
            // (a few thousand values) and the NN kernel runs instead.
            let bt = try scratchBuffer(slot: Self.transposedSlot, bytes: k * n * 4)
            try images_to_channel_rows(rows: bt, images: b, batch: n, channels: k, plane: 1)
            try matmul_nn(c: try target(fused: false), a: a, b: bt, m: m, n: n, k: k, split: split)
        case (false, true) where m >= 3 && n >= 4:
            if let bias, split.pieces == 1 {
                return try linear_nt(c: c, a: a, w: b, bias: bias, m: m, n: n, k: k, activation: activation)
            }
            try matmul_nt(c: try target(fused: false), a: a, b: b, m: m, n: n, k: k, split: split)
        case (false, false) where fitsTiles:
            try matmul_nn(c: try target(fused: false), a: a, b: b, m: m, n: n, k: k, split: split)
        case (true, false) where fitsTiles:
            try matmul_tn(c: try target(fused: false), a: a, b: b, m: m, n: n, k: k, split: split)
        default:
            return try matmul_generic(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                                      activation: activation)
        }
        let out = try target(fused: false)
        if out !== c { try sum_partials(c: c, partials: out, bias: bias, m: m, n: n, pieces: split.pieces, activation: activation) }
    }

    /// Scratch slot of the partial products of a product split along K (the convolutions use
    /// slots 1 and 2 around their products), and of a transposed B.
    private static let partialsSlot = 3, transposedSlot = 4

    /// How the register-tiled products walk K: in pieces of `chunk` when K is long, so the
    /// operands of one piece stay in the core's caches while every tile of C passes over them
    /// (a conv weight gradient has K = N·H·W = 6,272 or 25,088; the conv VAE's dense layers 3,136).
    struct KSplit {
        let chunk: Int, pieces: Int
        /// About this many k per piece (measured on PoCL, conv step: 512 → 33.8 ms, 1024 → 31.2,
        /// 2048 → 34.0, K whole → 34.5; medians of three interleaved runs).
        static let chunkLength = 1024
        /// K in one piece below twice `chunkLength`, else in pieces of equal length (a multiple of 16).
        init(k: Int) {
            guard k >= 2 * Self.chunkLength else {
                (chunk, pieces) = (k, 1)
                return
            }
            let wanted = (k + Self.chunkLength / 2) / Self.chunkLength
            chunk = ((k + wanted - 1) / wanted + 15) / 16 * 16
            pieces = (k + chunk - 1) / chunk
        }
    }

    /// C[M, N] = A[M, K]·B[K, N], NN_ROWS × NN_COLS register tiles (one vector wide when N is
    /// narrower than two); M ≥ `tiles.nnRows`, N ≥ `tiles.registerWidth`.
    /// C[M, N] = A[M, K]·B[K, N], NN_ROWS × NN_COLS register tiles (one vector wide when N is
    /// narrower than two); M ≥ `tiles.nnRows`, N ≥ `tiles.registerWidth`. With K in pieces,
    /// C holds `split.pieces` partial products [M, N].
    func matmul_nn(c: CLBuffer, a: CLBuffer, b: CLBuffer, m: Int, n: Int, k: Int, split: KSplit) throws(OpenCLError) {
        try enqueue(.matmul_nn, [.buffer(c), .buffer(a), .buffer(b)] + (try ints("matmul_nn", [m, n, k, split.chunk, rowsFirst(m: m, n: n)])),
                    global: registerTiles(m: m, n: n, split: split), local: registerTileGroup(m: m, n: n))
    }

    /// C[M, N] = A[K, M]ᵀ·B[K, N], the same tiles as `matmul_nn`.
    func matmul_tn(c: CLBuffer, a: CLBuffer, b: CLBuffer, m: Int, n: Int, k: Int, split: KSplit) throws(OpenCLError) {
        try enqueue(.matmul_tn, [.buffer(c), .buffer(a), .buffer(b)] + (try ints("matmul_tn", [m, n, k, split.chunk, rowsFirst(m: m, n: n)])),
                    global: registerTiles(m: m, n: n, split: split), local: registerTileGroup(m: m, n: n))
    }

    /// The NN/TN kernels' order of tiles (`rows_first` in matmul.cl): row tiles first when B is
    /// the larger operand, so each B column slab stays in cache while A passes.
    private func rowsFirst(m: Int, n: Int) -> Int { n > m ? 1 : 0 }

    private func registerTiles(m: Int, n: Int, split: KSplit) -> [Int] {
        let rows = (m + tiles.nnRows - 1) / tiles.nnRows, cols = tiles.nnTiles(columns: n)
        return rowsFirst(m: m, n: n) == 1 ? [rows, cols, split.pieces] : [cols, rows, split.pieces]
    }

    private func registerTileGroup(m: Int, n: Int) -> [Int] {
        rowsFirst(m: m, n: n) == 1 ? [tiles.local2D[1], tiles.local2D[0], 1] : tiles.local2D + [1]
    }

    /// C[M, N] = A[M, K]·B[N, K]ᵀ, 3 × 4 dot-product tiles; M ≥ 3, N ≥ 4; K in `split.pieces`
    /// partial products as `matmul_nn`.
    func matmul_nt(c: CLBuffer, a: CLBuffer, b: CLBuffer, m: Int, n: Int, k: Int, split: KSplit) throws(OpenCLError) {
        try enqueue(.matmul_nt, [.buffer(c), .buffer(a), .buffer(b)] + (try ints("matmul_nt", [m, n, k, split.chunk])),
                    global: [(m + 2) / 3, (n + 3) / 4, split.pieces], local: ntLocal + [1])
    }

    /// C[M, N] = act(Σ partials[z, M, N] + bias[N]) over the `pieces` of a product split along K.
    func sum_partials(c: CLBuffer, partials: CLBuffer, bias: CLBuffer?, m: Int, n: Int, pieces: Int,
                      activation: Activation) throws(OpenCLError) {
        try enqueue(.sum_partials, [.buffer(c), .buffer(partials), .buffer(bias ?? partials)]
                    + (try ints("sum_partials", [m, n, pieces, bias == nil ? 0 : 1])) + [.int(activation.kernelCode), .float(activation.kernelSlope)],
                    global: [n, m], local: [tiles.local1D, 1])
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
