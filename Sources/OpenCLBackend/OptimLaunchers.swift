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

    /// p −= lr·g on n elements.
    func sgd(p: CLBuffer, g: CLBuffer, n: Int, lr: Float) throws(OpenCLError) {
        try enqueue(.sgd, [.buffer(p), .buffer(g), try int(n, "sgd"), .float(lr)], global: [n], local: [tiles.local1D])
    }
}
