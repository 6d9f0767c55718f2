import Engine

/// Launchers of Kernels/optim.cl: parameter updates in place, one work-item per element.
extension OpenCLBackend {
    /// Adam on n elements of p with gradient g and moments m, v; c1, c2 are the bias corrections.
    func adam(p: CLBuffer, g: CLBuffer, m: CLBuffer, v: CLBuffer, n: Int, _ h: AdamHyperparameters, c1: Float, c2: Float) throws(OpenCLError) {
        try enqueue(.adam, [.buffer(p), .buffer(g), .buffer(m), .buffer(v), try int(n, "adam"), .float(h.learningRate), .float(h.beta1),
                            .float(h.beta2), .float(h.epsilon), .float(c1), .float(c2)],
                    global: [(n + tiles.registerWidth - 1) / tiles.registerWidth], local: [tiles.local1D])
    }

    /// `adam` on n elements with g the column sums of rows[rowCount, n] (a bias gradient), summed
    /// REGISTER_WIDTH columns per work-item in row order, as `reduce_rows` sums them.
    func adam_summing_rows(p: CLBuffer, rows: CLBuffer, m: CLBuffer, v: CLBuffer, rowCount: Int, n: Int, _ h: AdamHyperparameters,
                           c1: Float, c2: Float) throws(OpenCLError) {
        let items = (n + tiles.registerWidth - 1) / tiles.registerWidth
        try enqueue(.adam_summing_rows, [.buffer(p), .buffer(rows), .buffer(m), .buffer(v)] + (try ints("adamSummingRows", [rowCount, n]))
                    + [.float(h.learningRate), .float(h.beta1), .float(h.beta2), .float(h.epsilon), .float(c1), .float(c2)],
                    global: [items], local: loopingGroup(items: items))
    }

    /// A bias with its Adam moments: the optional third update of `adamTransposedProduct`.
    typealias BiasState = (p: CLBuffer, m: CLBuffer, v: CLBuffer)

    /// `adam` on p[M, N] with g = A[K, M]ᵀ·B[K, N] formed in the update, and with `bias` also
    /// on bias[M] with g the column sums of A (`adam_summing_rows`): where the register tiles
    /// can take the product whole (CPU devices, M and N at least a tile, K in one piece) the
    /// tile kernels step on each block of p as they finish its block of g (and the tiles of the
    /// first column on the bias); elsewhere (GPUs, small or long products) the product goes to a
    /// scratch buffer and `adam` follows, then `adam_summing_rows`.
    func adamTransposedProduct(p: CLBuffer, a: CLBuffer, b: CLBuffer, m: CLBuffer, v: CLBuffer, bias: BiasState?, rows: Int, columns: Int,
                               k: Int, _ h: AdamHyperparameters, c1: Float, c2: Float) throws(OpenCLError) {
        guard tiles.gemmTiles != nil || KSplit(k: k).pieces > 1 || !tiles.holdsNNTile(rows: rows, columns: columns) else {
            return try adam_transposed_product(p: p, a: a, b: b, m: m, v: v, bias: bias, rows: rows, columns: columns, k: k, h, c1: c1, c2: c2)
        }
        let g = try scratchBuffer(slot: Self.gradientSlot, bytes: rows * columns * 4)
        try gemm(c: g, a: a, b: b, bias: nil, m: rows, n: columns, k: k, transposeA: true, transposeB: false, activation: .identity)
        try adam(p: p, g: g, m: m, v: v, n: rows * columns, h, c1: c1, c2: c2)
        if let bias { try adam_summing_rows(p: bias.p, rows: a, m: bias.m, v: bias.v, rowCount: k, n: rows, h, c1: c1, c2: c2) }
    }

    /// Scratch slot of the gradient where `adamTransposedProduct` forms it apart from the update.
    private static let gradientSlot = 5

    /// `adam` on p[M, N] with g = A[K, M]ᵀ·B[K, N], `matmul_tn`'s register tiles with the update
    /// as their epilogue (N under two vectors: `adam_transposed_product_narrow`); K in one piece.
    /// With `bias`, the tiles at column 0 also sum their rows of A and step on those of the bias.
    func adam_transposed_product(p: CLBuffer, a: CLBuffer, b: CLBuffer, m: CLBuffer, v: CLBuffer, bias: BiasState?, rows: Int, columns: Int,
                                 k: Int, _ h: AdamHyperparameters, c1: Float, c2: Float) throws(OpenCLError) {
        if columns < 2 * tiles.registerWidth {
            return try adam_transposed_product_narrow(p: p, a: a, b: b, m: m, v: v, bias: bias, rows: rows, columns: columns, k: k, h,
                                                      c1: c1, c2: c2)
        }
        try enqueue(.adam_transposed_product,
                    try adamTileArguments(p: p, a: a, b: b, m: m, v: v, bias: bias, rows: rows, columns: columns, k: k, h, c1: c1, c2: c2),
                    global: registerTiles(m: rows, n: columns, split: KSplit(k: k)), local: registerTileGroup(m: rows, n: columns))
    }

    /// `adam_transposed_product` with N under two vectors (`matmul_tn_narrow`'s tiles).
    func adam_transposed_product_narrow(p: CLBuffer, a: CLBuffer, b: CLBuffer, m: CLBuffer, v: CLBuffer, bias: BiasState?, rows: Int,
                                        columns: Int, k: Int, _ h: AdamHyperparameters, c1: Float, c2: Float) throws(OpenCLError) {
        try enqueue(.adam_transposed_product_narrow,
                    try adamTileArguments(p: p, a: a, b: b, m: m, v: v, bias: bias, rows: rows, columns: columns, k: k, h, c1: c1, c2: c2),
                    global: registerTiles(m: rows, n: columns, split: KSplit(k: k)), local: registerTileGroup(m: rows, n: columns))
    }

    private func adamTileArguments(p: CLBuffer, a: CLBuffer, b: CLBuffer, m: CLBuffer, v: CLBuffer, bias: BiasState?, rows: Int, columns: Int,
                                   k: Int, _ h: AdamHyperparameters, c1: Float, c2: Float) throws(OpenCLError) -> [KernelArgument] {
        [.buffer(p), .buffer(a), .buffer(b), .buffer(m), .buffer(v), .buffer(bias?.p ?? p), .buffer(bias?.m ?? m), .buffer(bias?.v ?? v)]
            + (try ints("adamTransposedProduct", [rows, columns, k, rowsFirst(m: rows, n: columns), bias == nil ? 0 : 1]))
            + [.float(h.learningRate), .float(h.beta1), .float(h.beta2), .float(h.epsilon), .float(c1), .float(c2)]
    }

    /// p −= lr·g on n elements.
    func sgd(p: CLBuffer, g: CLBuffer, n: Int, lr: Float) throws(OpenCLError) {
        try enqueue(.sgd, [.buffer(p), .buffer(g), try int(n, "sgd"), .float(lr)], global: [n], local: [tiles.local1D])
    }
}
