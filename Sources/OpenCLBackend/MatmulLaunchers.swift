import Engine

/// Launchers of Kernels/matmul.cl (row-major matrices; see the file's header for the tiles),
/// and `gemm`, which picks one of them (or one of TransposeLaunchers.swift) for a product.
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
        let fitsTiles = tiles.holdsNNTile(rows: m, columns: n)
        // With K in several pieces the kernels write partial products, and sum_partials adds
        // them up, adds the bias and applies the activation; else the kernels do all of it.
        let out = split.pieces > 1 ? try scratchBuffer(slot: Self.partialsSlot, bytes: split.pieces * m * n * 4) : c
        let epilogue = split.pieces > 1 ? (bias: nil, activation: .identity) : (bias: bias, activation: activation)
        switch (transposeA, transposeB) {
        case (false, true) where split.pieces == 1 && fitsPanel(m: m, n: n, k: k):
            return try matmul_nt_panel(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, activation: activation)
        case (false, true) where fitsTiles && (k < 4 * tiles.registerWidth || m >= 384):
            // B [N, K] transposed and the NN kernel, where the panels do not fit. For a short K
            // (the decoder's first layer, K = the latent size) the dot-product form is mostly its
            // scalar remainder (NT 128×400×20: 9 GFLOP/s, 1000×400×20: 17 → 96–120 this way);
            // over many rows with K in pieces the transposition is paid once for M rows.
            let bt = try scratchBuffer(slot: Self.transposedSlot, bytes: k * n * 4)
            try transpose(dst: bt, src: b, rows: n, columns: k)
            try matmul_nn(c: out, a: a, b: bt, bias: epilogue.bias, m: m, n: n, k: k, split: split, activation: epilogue.activation)
        case (false, true) where m >= tiles.ntRows && n >= 4:
            if let bias = epilogue.bias {
                try linear_nt(c: out, a: a, w: b, bias: bias, m: m, n: n, k: k, activation: epilogue.activation)
            } else {
                try matmul_nt(c: out, a: a, b: b, m: m, n: n, k: k, split: split)
            }
        case (false, false) where fitsTiles:
            try matmul_nn(c: out, a: a, b: b, bias: epilogue.bias, m: m, n: n, k: k, split: split, activation: epilogue.activation)
        case (true, false) where fitsTiles:
            try matmul_tn(c: out, a: a, b: b, bias: epilogue.bias, m: m, n: n, k: k, split: split, activation: epilogue.activation)
        case (false, true) where k >= tiles.registerWidth:
            return try matmul_nt_dots(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, activation: activation)
        default:
            return try matmul_generic(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                                      activation: activation)
        }
        if split.pieces > 1 { try sum_partials(c: c, partials: out, bias: bias, m: m, n: n, pieces: split.pieces, activation: activation) }
    }

    /// dx[M, N] = act'(y) ⊙ (A[M, K]·B[K, N] [+ c]) (`Op.productActivationGradient`): for a
    /// ReLU on CPU devices, where the register tiles take the product whole (K in one piece),
    /// they apply the derivative before storing; elsewhere (other activations, GPUs, small or
    /// long products) the product, `add` and `activationGradient` in turn.
    func productActivationGradient(dx: CLBuffer, a: CLBuffer, b: CLBuffer, y: CLBuffer, c: CLBuffer?, m: Int, n: Int, k: Int,
                                   _ act: Activation) throws(OpenCLError) {
        if act == .relu, tiles.gemmTiles == nil, KSplit(k: k).pieces == 1, tiles.holdsNNTile(rows: m, columns: n) {
            let arguments = [KernelArgument.buffer(dx), .buffer(a), .buffer(b), .buffer(y), .buffer(c ?? y)]
                + (try ints("productActivationGradient", [m, n, k, rowsFirst(m: m, n: n), c == nil ? 0 : 1]))
            let global = registerTiles(m: m, n: n, split: KSplit(k: k)), local = registerTileGroup(m: m, n: n)
            return n < 2 * tiles.registerWidth ? try matmul_nn_relu_gradient_narrow(arguments, global: global, local: local)
                : try matmul_nn_relu_gradient(arguments, global: global, local: local)
        }
        try gemm(c: dx, a: a, b: b, bias: nil, m: m, n: n, k: k, transposeA: false, transposeB: false, activation: .identity)
        if let c { try add(c: dx, a: c, b: dx, n: m * n) }
        try activationGradient(dx: dx, y: y, dy: dx, n: m * n, act)
    }

    /// `matmul_nn`'s tiles storing relu'(y) ⊙ (tile [+ c]); arguments as `productActivationGradient` makes them.
    func matmul_nn_relu_gradient(_ arguments: [KernelArgument], global: [Int], local: [Int]) throws(OpenCLError) {
        try enqueue(.matmul_nn_relu_gradient, arguments, global: global, local: local)
    }

    /// `matmul_nn_relu_gradient` with N under two vectors (`matmul_nn_narrow`'s tiles).
    func matmul_nn_relu_gradient_narrow(_ arguments: [KernelArgument], global: [Int], local: [Int]) throws(OpenCLError) {
        try enqueue(.matmul_nn_relu_gradient_narrow, arguments, global: global, local: local)
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

    /// C[M, N] = act(A[M, K]·B[K, N] + bias[N]), NN_ROWS × NN_COLS register tiles (2·NN_ROWS
    /// rows of one vector when N is narrower than two vectors); M ≥ `tiles.nnTileRows(columns:
    /// N)`, N ≥ `tiles.registerWidth`. With K in pieces, C holds `split.pieces` partial products
    /// [M, N] (no bias or activation).
    func matmul_nn(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer? = nil, m: Int, n: Int, k: Int, split: KSplit,
                   activation: Activation = .identity) throws(OpenCLError) {
        if n < 2 * tiles.registerWidth {
            return try matmul_nn_narrow(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, split: split, activation: activation)
        }
        try enqueue(.matmul_nn, try registerTileArguments(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, split: split, activation: activation),
                    global: registerTiles(m: m, n: n, split: split), local: registerTileGroup(m: m, n: n))
    }

    /// `matmul_nn` with N under two vectors: tiles of 2·NN_ROWS rows of one vector.
    func matmul_nn_narrow(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int, split: KSplit,
                          activation: Activation) throws(OpenCLError) {
        try enqueue(.matmul_nn_narrow, try registerTileArguments(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, split: split, activation: activation),
                    global: registerTiles(m: m, n: n, split: split), local: registerTileGroup(m: m, n: n))
    }

    /// C[M, N] = A[K, M]ᵀ·B[K, N], the same tiles and epilogue as `matmul_nn`.
    func matmul_tn(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer? = nil, m: Int, n: Int, k: Int, split: KSplit,
                   activation: Activation = .identity) throws(OpenCLError) {
        if n < 2 * tiles.registerWidth {
            return try matmul_tn_narrow(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, split: split, activation: activation)
        }
        try enqueue(.matmul_tn, try registerTileArguments(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, split: split, activation: activation),
                    global: registerTiles(m: m, n: n, split: split), local: registerTileGroup(m: m, n: n))
    }

    /// `matmul_tn` with N under two vectors: tiles of 2·NN_ROWS rows of one vector.
    func matmul_tn_narrow(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int, split: KSplit,
                          activation: Activation) throws(OpenCLError) {
        try enqueue(.matmul_tn_narrow, try registerTileArguments(c: c, a: a, b: b, bias: bias, m: m, n: n, k: k, split: split, activation: activation),
                    global: registerTiles(m: m, n: n, split: split), local: registerTileGroup(m: m, n: n))
    }

    /// The arguments of the NN/TN register-tile kernels (`matmul_tile` in matmul.cl).
    private func registerTileArguments(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int, split: KSplit,
                                       activation: Activation) throws(OpenCLError) -> [KernelArgument] {
        [.buffer(c), .buffer(a), .buffer(b), .buffer(bias ?? a)]
            + (try ints("matmul", [m, n, k, split.chunk, rowsFirst(m: m, n: n), bias == nil ? 0 : 1]))
            + [.int(activation.kernelCode), .float(activation.kernelSlope)]
    }

    /// The NN/TN kernels' order of tiles (`rows_first` in matmul.cl; also the fused Adam's in
    /// optim.cl): row tiles first when B is the larger operand, so each B column slab stays in
    /// cache while A passes.
    func rowsFirst(m: Int, n: Int) -> Int { n > m ? 1 : 0 }

    func registerTiles(m: Int, n: Int, split: KSplit) -> [Int] {
        let tileRows = tiles.nnTileRows(columns: n)
        let rows = (m + tileRows - 1) / tileRows, cols = tiles.nnTiles(columns: n)
        return rowsFirst(m: m, n: n) == 1 ? [rows, cols, split.pieces] : [cols, rows, split.pieces]
    }

    func registerTileGroup(m: Int, n: Int) -> [Int] {
        rowsFirst(m: m, n: n) == 1 ? [tiles.local2D[1], tiles.local2D[0], 1] : tiles.local2D + [1]
    }

    /// C[M, N] = A[M, K]·B[N, K]ᵀ, `tiles.ntRows` × 4 dot-product tiles; M ≥ `tiles.ntRows`,
    /// N ≥ 4; K in `split.pieces` partial products as `matmul_nn`.
    func matmul_nt(c: CLBuffer, a: CLBuffer, b: CLBuffer, m: Int, n: Int, k: Int, split: KSplit) throws(OpenCLError) {
        try enqueue(.matmul_nt, [.buffer(c), .buffer(a), .buffer(b)] + (try ints("matmul_nt", [m, n, k, split.chunk])),
                    global: [(m + tiles.ntRows - 1) / tiles.ntRows, (n + 3) / 4, split.pieces], local: ntLocal + [1])
    }

    /// C[M, N] = act(A[M, K]·B[N, K]ᵀ + bias[N]), one dot product per work-item in vector lanes:
    /// NT products with fewer rows than a tile.
    func matmul_nt_dots(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int,
                        activation: Activation) throws(OpenCLError) {
        try enqueue(.matmul_nt_dots, [.buffer(c), .buffer(a), .buffer(b), .buffer(bias ?? a)]
                    + (try ints("matmul_nt_dots", [m, n, k, bias == nil ? 0 : 1])) + [.int(activation.kernelCode), .float(activation.kernelSlope)],
                    global: [n, m], local: [loopingGroup(items: n)[0], 1])
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
                    global: [(m + tiles.ntRows - 1) / tiles.ntRows, (n + 3) / 4], local: ntLocal)
    }

    /// C[M, N] = act(op(A)·op(B) + bias), one element per work-item: any shape and transposes.
    func matmul_generic(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int,
                        transposeA: Bool, transposeB: Bool, activation: Activation) throws(OpenCLError) {
        try enqueue(.matmul_generic, [.buffer(c), .buffer(a), .buffer(b), .buffer(bias ?? a)] + (try ints("matmul_generic", [m, n, k]))
                    + [.int(transposeA ? 1 : 0), .int(transposeB ? 1 : 0), .int(bias == nil ? 0 : 1),
                       .int(activation.kernelCode), .float(activation.kernelSlope)],
                    global: [n, m], local: [1, 1])
    }

    /// Dimension 0 of the NT kernels walks rows (see dot_tile), so the 2-D group is swapped.
    private var ntLocal: [Int] { [tiles.local2D[1], tiles.local2D[0]] }
}
