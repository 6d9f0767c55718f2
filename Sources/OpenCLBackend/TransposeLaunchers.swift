import Engine

/// Launchers of Kernels/transpose.cl: NT products whose B is transposed, as a pass of its own
/// (`transpose`, before `matmul_nn`) or panel by panel in local memory (`matmul_nt_panel`).
extension OpenCLBackend {
    /// dst[C, R] = src[R, C]ᵀ, REGISTER_WIDTH × REGISTER_WIDTH blocks per work-item.
    func transpose(dst: CLBuffer, src: CLBuffer, rows: Int, columns: Int) throws(OpenCLError) {
        let w = tiles.registerWidth
        try enqueue(.transpose, [.buffer(dst), .buffer(src)] + (try ints("transpose", [rows, columns])),
                    global: [(columns + w - 1) / w, (rows + w - 1) / w], local: [1, 1])
    }

    /// Whether an NT product of this shape goes through `matmul_nt_panel`: at least
    /// `panelMinimumRows` rows (fewer do not pay for the panel's transposition: NT 16×784×400
    /// 150 → 116–150 GFLOP/s, 48×784×400 118 → 125–207, noisy), one tile of columns, K of at
    /// least four vectors (shorter ones go through `transpose` and `matmul_nn`) and a panel
    /// (K · NN_COLS floats) that fits the device's local memory.
    func fitsPanel(m: Int, n: Int, k: Int) -> Bool {
        let w = tiles.registerWidth
        return m >= Self.panelMinimumRows && n >= 2 * w && k >= 4 * w && UInt64(k * 2 * w * 4) <= device.localMemory
    }

    /// Rows from which NT products take `matmul_nt_panel`.
    static let panelMinimumRows = 64
    /// Row tiles (work-items) per work-group of `matmul_nt_panel`: all 16 of a batch of 128
    /// rows, so each panel is transposed once (8 per group, the panel twice: 128×784×400
    /// 265–273 → 237–240 GFLOP/s).
    static let panelRowTiles = 16

    /// C[M, N] = act(A[M, K]·B[N, K]ᵀ + bias[N]) with B transposed panel by panel (NN_COLS rows
    /// of B, K · NN_COLS floats of local memory per work-group) and NN_ROWS × NN_COLS tiles;
    /// M ≥ NN_ROWS, N ≥ NN_COLS (see `fitsPanel`). Measured on PoCL against the dot-product
    /// tiles (`linear_nt`), best of interleaved runs, GFLOP/s: 128×784×400 189–221 → 241–273,
    /// 128×3136×256 195 → 254–259, 128×400×784 243–250 → 252–256; and against `transpose` +
    /// `matmul_nn`: 1000×784×400 261–266 → 275–286.
    func matmul_nt_panel(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int,
                         activation: Activation) throws(OpenCLError) {
        let columns = 2 * tiles.registerWidth, rowTiles = (m + tiles.nnRows - 1) / tiles.nnRows
        let items = min(rowTiles, Self.panelRowTiles), groups = (rowTiles + items - 1) / items
        try enqueue(.matmul_nt_panel, [.buffer(c), .buffer(a), .buffer(b), .buffer(bias ?? a), .local(k * columns * 4)]
                    + (try ints("matmul_nt_panel", [m, n, k, bias == nil ? 0 : 1])) + [.int(activation.kernelCode), .float(activation.kernelSlope)],
                    global: [groups * items, (n + columns - 1) / columns], local: [items, 1])
    }
}
