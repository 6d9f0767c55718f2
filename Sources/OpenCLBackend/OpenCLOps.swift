import COpenCL
import Engine

/// Chunk length of the first stage of a full reduction.
private let reductionChunk = 4096

extension OpenCLBackend {
    /// One op: a switch over `Op` onto the launchers (the *Launchers.swift files, one per file
    /// of Kernels/), which enqueue without waiting.
    public func execute(_ op: Op, inputs: [TensorBuffer], outputs: [TensorBuffer], context: RunContext) throws {
        let x = try inputs.map { try clBuffer($0.buffer) }
        let y = try outputs.map { try clBuffer($0.buffer) }
        let s = inputs.map(\.spec.shape)
        switch op {
        case .linear(let act):
            try gemm(c: y[0], a: x[0], b: x[1], bias: x[2], m: s[0].rows, n: s[1].rows, k: s[0].columns,
                     transposeA: false, transposeB: true, activation: act)
        case .matmul(let ta, let tb):
            let (m, n) = (outputs[0].spec.shape.rows, outputs[0].spec.shape.columns)
            try gemm(c: y[0], a: x[0], b: x[1], bias: nil, m: m, n: n, k: ta ? s[0].rows : s[0].columns,
                     transposeA: ta, transposeB: tb, activation: .identity)
        case .activation(let act):
            try activation(y: y[0], x: x[0], n: s[0].count, act)
        case .activationGradient(let act):
            try activationGradient(dx: y[0], y: x[0], dy: x[1], n: s[0].count, act)
        case .add:
            try add(c: y[0], a: x[0], b: x[1], n: s[0].count)
        case .productActivationGradient(let act, let accumulate):
            try productActivationGradient(dx: y[0], a: x[0], b: x[1], y: x[2], c: accumulate ? x[3] : nil, m: s[0].rows, n: s[1].columns,
                                          k: s[0].columns, act)
        case .reshape:
            // The executor aliases a reshape to its input; copy only when it did not.
            let bytes = inputs[0].spec.byteCount
            if x[0] !== y[0], bytes > 0 {
                try check(clEnqueueCopyBuffer(runtime.queue, x[0].mem, y[0].mem, 0, 0, bytes, 0, nil, nil), "clEnqueueCopyBuffer")
            }
        case .conv2d(let g, let act, let bias):
            try conv2d(g, act, y: y[0], x: x[0], weight: x[1], bias: bias ? x[2] : nil,
                       input: ImageShape(s[0]), kernel: ImageShape(s[1]), output: ImageShape(outputs[0].spec.shape))
        case .convTranspose2d(let g, let act, let bias):
            try convTranspose2d(g, act, y: y[0], x: x[0], weight: x[1], bias: bias ? x[2] : nil,
                                input: ImageShape(s[0]), kernel: ImageShape(s[1]), output: ImageShape(outputs[0].spec.shape))
        case .conv2dWeightGradient(let g, let kh, let kw):
            try conv2dWeightGradient(g, dw: y[0], x: x[0], dy: x[1], input: ImageShape(s[0]), gradient: ImageShape(s[1]),
                                     kernelHeight: kh, kernelWidth: kw)
        case .reduce(let r, let axis):
            try reduce(r, axis, y: y[0], x: x[0], shape: s[0])
        case .broadcast(let shape, let scale):
            try broadcast(y: y[0], x: x[0], n: shape.count, width: s[0].count, scale: scale)
        case .randomNormal(let shape, let seed):
            try random_normal(y: y[0], n: shape.count, seed: seed, step: context.step, sample: 0)
        case .reparameterize(let seed, let sample):
            try reparameterize(z: y[0], mean: x[0], logVariance: x[1], n: s[0].count, width: s[0].columns, seed: seed, sample: sample,
                               context: context)
        case .reparameterizeGradient(let seed, let sample):
            try reparameterize_gradient(dLogVariance: y[0], logVariance: x[0], dz: x[1], n: s[0].count, width: s[0].columns, seed: seed,
                                        sample: sample, context: context)
        case .vaeLoss(let o):
            try vaeLoss(o, terms: y[0], total: y[1], x: x[0], decoded: x[1], mean: x[2], logVariance: x[3], z: o.zIndex.map { x[$0] },
                        variances: o.varianceIndex.map { x[$0] }, batch: s[0].rows, dataSize: s[0].columns, latentSize: s[2].columns)
        case .vaeLossGradient(let o):
            let mc = o.kl == .monteCarlo
            try vaeLossGradient(o, dDecoded: y[0], dMean: y[1], dLogVariance: y[2], dz: mc ? y[3] : nil, x: x[0], decoded: x[1],
                                mean: x[2], logVariance: x[3], z: o.zIndex.map { x[$0] }, variances: o.varianceIndex.map { x[$0] },
                                dLoss: x[o.lossInputCount],
                                batch: s[0].rows, dataSize: s[0].columns, latentSize: s[2].columns)
        case .vaeLossWithGradient(let o):
            let mc = o.kl == .monteCarlo
            try vaeLossWithGradient(o, terms: y[0], total: y[1], dDecoded: y[2], dMean: y[3], dLogVariance: y[4], dz: mc ? y[5] : nil,
                                    x: x[0], decoded: x[1], mean: x[2], logVariance: x[3], z: o.zIndex.map { x[$0] },
                                    variances: o.varianceIndex.map { x[$0] }, dLoss: x[o.lossInputCount],
                                    batch: s[0].rows, dataSize: s[0].columns, latentSize: s[2].columns)
        case .gather(let rows), .gatherPalette(let rows):
            let indexCount = s[1].count
            guard context.cursor >= 0, context.cursor + rows <= indexCount else {
                throw BackendError.outOfRange(op: "gather", detail: "rows \(context.cursor)..<\(context.cursor + rows) of an index list of \(indexCount)")
            }
            if case .gatherPalette = op {
                try gather_palette(y: y[0], table: x[0], palette: x[2], indices: x[1], rows: rows, width: s[0].columns, tableRows: s[0].rows,
                                   cursor: context.cursor)
            } else {
                try gather(y: y[0], table: x[0], indices: x[1], rows: rows, width: s[0].columns, tableRows: s[0].rows, cursor: context.cursor)
            }
        case .adam(let h):
            let (c1, c2) = h.biasCorrections(step: context.step)
            try adam(p: x[0], g: x[1], m: x[2], v: x[3], n: s[0].count, h, c1: c1, c2: c2)
        case .adamSummingRows(let h):
            let (c1, c2) = h.biasCorrections(step: context.step)
            try adam_summing_rows(p: x[0], rows: x[1], m: x[2], v: x[3], rowCount: s[1].rows, n: s[0].count, h, c1: c1, c2: c2)
        case .adamTransposedProduct(let h, let bias):
            let (c1, c2) = h.biasCorrections(step: context.step)
            try adamTransposedProduct(p: x[0], a: x[1], b: x[2], m: x[3], v: x[4], bias: bias ? (x[5], x[6], x[7]) : nil,
                                      rows: s[0].rows, columns: s[0].columns, k: s[1].rows, h, c1: c1, c2: c2)
        case .sgd(let lr):
            try sgd(p: x[0], g: x[1], n: s[0].count, lr: lr)
        }
    }

    private func reduce(_ r: Reduction, _ axis: ReductionAxis, y: CLBuffer, x: CLBuffer, shape: Shape) throws {
        switch (r, axis) {
        case (_, .channels):  // sum or mean (the shape rule refuses log-sum-exp)
            try reduce_channels(y: y, x: x, r, shape: shape)
        case (.logSumExp, .rows):
            try logsumexp_rows(y: y, x: x, m: shape.rows, n: shape.columns)
        case (.logSumExp, .all):
            let parts = (shape.count + reductionChunk - 1) / reductionChunk
            let partial = try scratchBuffer(bytes: parts * 8)
            try logsumexp_partial(partial: partial, x: x, n: shape.count, chunk: reductionChunk, parts: parts)
            try logsumexp_final(y: y, partial: partial, parts: parts)
        case (_, .rows):
            try reduce_rows(y: y, x: x, m: shape.rows, n: shape.columns, scale: r == .mean ? 1 / Float(shape.rows) : 1)
        case (_, .all):
            let parts = (shape.count + reductionChunk - 1) / reductionChunk
            let partial = try scratchBuffer(bytes: parts * 4)
            try reduce_partial(partial: partial, x: x, n: shape.count, chunk: reductionChunk, parts: parts)
            try reduce_final(y: y, partial: partial, parts: parts, scale: r == .mean ? 1 / Float(shape.count) : 1)
        }
    }
}
