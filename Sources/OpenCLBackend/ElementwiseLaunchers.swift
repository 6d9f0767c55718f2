import Engine

/// Launchers of Kernels/elementwise.cl: one work-item per element, or per column / chunk for
/// the reductions, which sum in a fixed order.
extension OpenCLBackend {
    /// y[i] = act(x[i]) for i < n, by the kernel of that activation.
    func activation(y: CLBuffer, x: CLBuffer, n: Int, _ act: Activation) throws(OpenCLError) {
        switch act {
        case .identity: try activation_identity(y: y, x: x, n: n)
        case .relu: try activation_relu(y: y, x: x, n: n)
        case .leakyReLU(let slope): try activation_leaky_relu(y: y, x: x, n: n, slope: slope)
        case .sigmoid: try activation_sigmoid(y: y, x: x, n: n)
        case .tanh: try activation_tanh(y: y, x: x, n: n)
        case .softplus: try activation_softplus(y: y, x: x, n: n)
        }
    }

    func activation_identity(y: CLBuffer, x: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_identity, [.buffer(y), .buffer(x), try int(n, "activation"), .float(0)], global: [n], local: [tiles.local1D])
    }

    func activation_relu(y: CLBuffer, x: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_relu, [.buffer(y), .buffer(x), try int(n, "activation"), .float(0)], global: [n], local: [tiles.local1D])
    }

    func activation_leaky_relu(y: CLBuffer, x: CLBuffer, n: Int, slope: Float) throws(OpenCLError) {
        try enqueue(.activation_leaky_relu, [.buffer(y), .buffer(x), try int(n, "activation"), .float(slope)], global: [n], local: [tiles.local1D])
    }

    func activation_sigmoid(y: CLBuffer, x: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_sigmoid, [.buffer(y), .buffer(x), try int(n, "activation"), .float(0)], global: [n], local: [tiles.local1D])
    }

    func activation_tanh(y: CLBuffer, x: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_tanh, [.buffer(y), .buffer(x), try int(n, "activation"), .float(0)], global: [n], local: [tiles.local1D])
    }

    func activation_softplus(y: CLBuffer, x: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_softplus, [.buffer(y), .buffer(x), try int(n, "activation"), .float(0)], global: [n], local: [tiles.local1D])
    }

    /// dx[i] = dy[i]·act'(x[i]), written through the forward output y, by the kernel of that activation.
    func activationGradient(dx: CLBuffer, y: CLBuffer, dy: CLBuffer, n: Int, _ act: Activation) throws(OpenCLError) {
        switch act {
        case .identity: try activation_gradient_identity(dx: dx, y: y, dy: dy, n: n)
        case .relu: try activation_gradient_relu(dx: dx, y: y, dy: dy, n: n)
        case .leakyReLU(let slope): try activation_gradient_leaky_relu(dx: dx, y: y, dy: dy, n: n, slope: slope)
        case .sigmoid: try activation_gradient_sigmoid(dx: dx, y: y, dy: dy, n: n)
        case .tanh: try activation_gradient_tanh(dx: dx, y: y, dy: dy, n: n)
        case .softplus: try activation_gradient_softplus(dx: dx, y: y, dy: dy, n: n)
        }
    }

    func activation_gradient_identity(dx: CLBuffer, y: CLBuffer, dy: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_gradient_identity, [.buffer(dx), .buffer(y), .buffer(dy), try int(n, "activationGradient"), .float(0)],
                    global: [n], local: [tiles.local1D])
    }

    func activation_gradient_relu(dx: CLBuffer, y: CLBuffer, dy: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_gradient_relu, [.buffer(dx), .buffer(y), .buffer(dy), try int(n, "activationGradient"), .float(0)],
                    global: [n], local: [tiles.local1D])
    }

    func activation_gradient_leaky_relu(dx: CLBuffer, y: CLBuffer, dy: CLBuffer, n: Int, slope: Float) throws(OpenCLError) {
        try enqueue(.activation_gradient_leaky_relu, [.buffer(dx), .buffer(y), .buffer(dy), try int(n, "activationGradient"), .float(slope)],
                    global: [n], local: [tiles.local1D])
    }

    func activation_gradient_sigmoid(dx: CLBuffer, y: CLBuffer, dy: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_gradient_sigmoid, [.buffer(dx), .buffer(y), .buffer(dy), try int(n, "activationGradient"), .float(0)],
                    global: [n], local: [tiles.local1D])
    }

    func activation_gradient_tanh(dx: CLBuffer, y: CLBuffer, dy: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_gradient_tanh, [.buffer(dx), .buffer(y), .buffer(dy), try int(n, "activationGradient"), .float(0)],
                    global: [n], local: [tiles.local1D])
    }

    func activation_gradient_softplus(dx: CLBuffer, y: CLBuffer, dy: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.activation_gradient_softplus, [.buffer(dx), .buffer(y), .buffer(dy), try int(n, "activationGradient"), .float(0)],
                    global: [n], local: [tiles.local1D])
    }

    /// c = a + b over n elements.
    func add(c: CLBuffer, a: CLBuffer, b: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.add, [.buffer(c), .buffer(a), .buffer(b), try int(n, "add")], global: [n], local: [tiles.local1D])
    }

    /// y[i] = scale·x[i mod width] for i < n (n a multiple of width).
    func broadcast(y: CLBuffer, x: CLBuffer, n: Int, width: Int, scale: Float) throws(OpenCLError) {
        let rows = n / max(width, 1)
        let columns = perItem(width), rowsPerItem = perItem(max(1, 4096 / max(width, 1)))
        let items = (rows + rowsPerItem - 1) / rowsPerItem
        try enqueue(.broadcast, [.buffer(y), .buffer(x)] + (try ints("broadcast", [n, width])) + [.float(scale)]
                    + (try ints("broadcast", [columns, rowsPerItem])),
                    global: [(width + columns - 1) / columns, items],
                    local: tiles.gemmTiles == nil ? [1, loopingGroup(items: items)[0]] : [tiles.local1D, 1])
    }

    /// Row r of y[rows, width] = row indices[cursor + r] of table[tableRows, width].
    func gather(y: CLBuffer, table: CLBuffer, indices: CLBuffer, rows: Int, width: Int, tableRows: Int, cursor: Int) throws(OpenCLError) {
        let each = perItem(width)  // whole rows on CPU devices
        try enqueue(.gather, [.buffer(y), .buffer(table), .buffer(indices)] + (try ints("gather", [rows, width, tableRows, cursor, each])),
                    global: [(width + each - 1) / each, rows], local: tiles.gemmTiles == nil ? [1, loopingGroup(items: rows)[0]] : [tiles.local1D, 1])
    }

    /// `gather` from a byte table: row r of y is row indices[cursor + r] of table[tableRows,
    /// width] (bytes), each byte b as palette[b] (256 floats).
    func gather_palette(y: CLBuffer, table: CLBuffer, palette: CLBuffer, indices: CLBuffer, rows: Int, width: Int, tableRows: Int,
                        cursor: Int) throws(OpenCLError) {
        let each = perItem(width)
        try enqueue(.gather_palette, [.buffer(y), .buffer(table), .buffer(palette), .buffer(indices)]
                    + (try ints("gatherPalette", [rows, width, tableRows, cursor, each])),
                    global: [(width + each - 1) / each, rows], local: tiles.gemmTiles == nil ? [1, loopingGroup(items: rows)[0]] : [tiles.local1D, 1])
    }

    /// y[j] = scale·Σ_i x[i, j] over an m × n matrix.
    func reduce_rows(y: CLBuffer, x: CLBuffer, m: Int, n: Int, scale: Float) throws(OpenCLError) {
        try enqueue(.reduce_rows, [.buffer(y), .buffer(x)] + (try ints("reduce", [m, n])) + [.float(scale)],
                    global: [(n + tiles.registerWidth - 1) / tiles.registerWidth],
                    local: loopingGroup(items: (n + tiles.registerWidth - 1) / tiles.registerWidth))
    }

    /// partial[p] = the sum of x's chunk p (chunk elements each) for p < parts.
    func reduce_partial(partial: CLBuffer, x: CLBuffer, n: Int, chunk: Int, parts: Int) throws(OpenCLError) {
        try enqueue(.reduce_partial, [.buffer(partial), .buffer(x)] + (try ints("reduce", [n, chunk, parts])),
                    global: [parts], local: [tiles.local1D])
    }

    /// y[0] = scale·Σ partial[0 ..< parts], in order.
    func reduce_final(y: CLBuffer, partial: CLBuffer, parts: Int, scale: Float) throws(OpenCLError) {
        try enqueue(.reduce_final, [.buffer(y), .buffer(partial), try int(parts, "reduce"), .float(scale)], global: [1], local: [1])
    }

    /// y[j] = log Σ_i exp x[i, j] over an m × n matrix.
    func logsumexp_rows(y: CLBuffer, x: CLBuffer, m: Int, n: Int) throws(OpenCLError) {
        try enqueue(.logsumexp_rows, [.buffer(y), .buffer(x)] + (try ints("reduce", [m, n])), global: [n], local: loopingGroup(items: n))
    }

    /// partial[2p ..< 2p + 2] = (maximum, Σ exp(x − maximum)) of x's chunk p.
    func logsumexp_partial(partial: CLBuffer, x: CLBuffer, n: Int, chunk: Int, parts: Int) throws(OpenCLError) {
        try enqueue(.logsumexp_partial, [.buffer(partial), .buffer(x)] + (try ints("reduce", [n, chunk, parts])),
                    global: [parts], local: [tiles.local1D])
    }

    /// y[0] = log Σ exp over all chunks summarized in partial.
    func logsumexp_final(y: CLBuffer, partial: CLBuffer, parts: Int) throws(OpenCLError) {
        try enqueue(.logsumexp_final, [.buffer(y), .buffer(partial), try int(parts, "reduce")], global: [1], local: [1])
    }
}
