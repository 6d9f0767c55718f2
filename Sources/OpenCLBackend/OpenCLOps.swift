import COpenCL
import Engine

extension Activation {
    /// The suffix of its kernels in Kernels/elementwise.cl.
    var kernelSuffix: String {
        switch self {
        case .identity: "identity"
        case .relu: "relu"
        case .leakyReLU: "leaky_relu"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .softplus: "softplus"
        }
    }

    /// The code `activate()` in Kernels/common.cl switches on, and LeakyReLU's slope.
    var kernelCode: (Int32, Float) {
        switch self {
        case .identity: (0, 0)
        case .relu: (1, 0)
        case .leakyReLU(let slope): (2, slope)
        case .sigmoid: (3, 0)
        case .tanh: (4, 0)
        case .softplus: (5, 0)
        }
    }
}

extension Likelihood {
    var kernelSuffix: String {
        switch self {
        case .bernoulli: "bernoulli"
        case .gaussian: "gaussian"
        case .calibratedGaussian: "calibrated"
        }
    }

    /// The code Kernels/loss.cl switches on, and σ for the Gaussian.
    var kernelCode: (Int32, Float) {
        switch self {
        case .bernoulli: (0, 1)
        case .gaussian(let sigma): (1, sigma)
        case .calibratedGaussian: (2, 1)
        }
    }
}

/// Chunk length of the first stage of a full reduction.
private let reductionChunk = 4096

extension OpenCLBackend {
    /// `value` as a kernel `int`; a size past Int32 is an error naming `what`.
    func int(_ value: Int, _ what: String) throws(OpenCLError) -> KernelArgument {
        guard value <= Int(Int32.max) else { throw .sizeTooLarge(what: what, value: value) }
        return .int(Int32(value))
    }

    public func execute(_ op: Op, inputs: [TensorBuffer], outputs: [TensorBuffer], context: RunContext) throws {
        let x = try inputs.map { KernelArgument.buffer(try clBuffer($0.buffer)) }
        let y = try outputs.map { KernelArgument.buffer(try clBuffer($0.buffer)) }
        let s = inputs.map(\.spec.shape)
        let local = [tiles.local1D]
        switch op {
        case .linear(let act):
            let (m, n, k) = (s[0].rows, s[1].rows, s[0].columns)
            try gemm(c: y[0], a: x[0], b: x[1], bias: x[2], m: m, n: n, k: k, transposeA: false, transposeB: true, activation: act)
        case .matmul(let ta, let tb):
            let (m, n) = (outputs[0].spec.shape.rows, outputs[0].spec.shape.columns)
            let k = ta ? s[0].rows : s[0].columns
            try gemm(c: y[0], a: x[0], b: x[1], bias: nil, m: m, n: n, k: k, transposeA: ta, transposeB: tb, activation: .identity)
        case .activation(let act):
            let slope = act.kernelCode.1
            let n = s[0].count
            try launch("activation_forward_" + act.kernelSuffix, [y[0], x[0], try int(n, "activation"), .float(slope)], global: [n], local: local)
        case .activationGradient(let act):
            let slope = act.kernelCode.1
            let n = s[0].count
            try launch("activation_backward_" + act.kernelSuffix, [y[0], x[0], x[1], try int(n, "activation"), .float(slope)], global: [n], local: local)
        case .add:
            let n = s[0].count
            try launch("add", [y[0], x[0], x[1], try int(n, "add")], global: [n], local: local)
        case .reshape:
            let bytes = inputs[0].spec.byteCount
            if let from = x.first, case .buffer(let a) = from, case .buffer(let b) = y[0], a !== b, bytes > 0 {
                try check(clEnqueueCopyBuffer(runtime.queue, a.mem, b.mem, 0, 0, bytes, 0, nil, nil), "clEnqueueCopyBuffer")
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
            let n = shape.count
            try launch("broadcast", [y[0], x[0], try int(n, "broadcast"), try int(s[0].count, "broadcast"), .float(scale)],
                       global: [n], local: local)
        case .randomNormal(let shape, let seed):
            let n = shape.count
            try launch("random_normal", [y[0], try int(n, "randomNormal"), .uint(0)] + Self.counterArguments(seed: seed, step: context.step),
                       global: [(n + 3) / 4], local: local)
        case .reparameterize(let seed, let sample):
            let n = s[0].count
            try launch("reparameterize", [y[0], x[0], x[1], try int(n, "reparameterize"), .uint(sample)]
                       + Self.counterArguments(seed: seed, step: context.step), global: [(n + 3) / 4], local: local)
        case .reparameterizeGradient(let seed, let sample):
            let n = s[0].count
            try launch("reparameterize_backward", [y[0], x[0], x[1], try int(n, "reparameterize"), .uint(sample)]
                       + Self.counterArguments(seed: seed, step: context.step), global: [(n + 3) / 4], local: local)
        case .vaeLoss(let o):
            let (code, sigma) = o.likelihood.kernelCode
            let (b, d, l) = (try int(s[0].rows, "batch"), try int(s[0].columns, "data size"), try int(s[2].columns, "latent size"))
            let mc = o.kl == .monteCarlo
            let pixels = try scratchBuffer(bytes: s[0].count * 4)
            try launch("vae_pixel_loss_" + o.likelihood.kernelSuffix, [.buffer(pixels), x[0], x[1], try int(s[0].count, "pixels"), .float(sigma)],
                       global: [s[0].count], local: local)
            try launch("vae_loss_terms", [y[0], .buffer(pixels), x[2], x[3], mc ? x[4] : x[2], b, d, l, .int(mc ? 1 : 0)],
                       global: [s[0].rows], local: local)
            try launch("vae_loss_total", [y[1], y[0], b, d, .int(code), .float(o.beta)], global: [1], local: [1])
        case .vaeLossGradient(let o):
            let sigma = o.likelihood.kernelCode.1
            let (batch, width, latent) = (s[0].rows, s[0].columns, s[2].columns)
            let (b, d) = (try int(batch, "batch"), try int(width, "data size"))
            let mc = o.kl == .monteCarlo
            var stats = x[0]
            if o.likelihood == .calibratedGaussian {
                let scratch = try scratchBuffer(bytes: (batch + 1) * 4)
                stats = .buffer(scratch)
                try launch("squared_error_rows", [stats, x[0], x[1], b, d], global: [batch], local: local)
                try launch("calibrated_variance", [stats, b, d], global: [1], local: [1])
            }
            let pixels = batch * width, latents = batch * latent
            try launch("vae_pixel_gradient_" + o.likelihood.kernelSuffix,
                       [y[0], x[0], x[1], x[mc ? 5 : 4], stats, b, try int(pixels, "pixels"), b, .float(sigma)], global: [pixels], local: local)
            try launch("vae_latent_gradient", [y[1], y[2], mc ? y[3] : y[1], x[2], x[3], mc ? x[4] : x[2], x[mc ? 5 : 4],
                                               try int(latents, "latents"), b, .float(o.beta), .int(mc ? 1 : 0)], global: [latents], local: local)
        case .gather(let rows):
            let indexCount = s[1].count
            guard context.cursor >= 0, context.cursor + rows <= indexCount else {
                throw BackendError.outOfRange(op: "gather", detail: "rows \(context.cursor)..<\(context.cursor + rows) of an index list of \(indexCount)")
            }
            let width = s[0].columns
            try launch("gather_rows", [y[0], x[0], x[1], try int(rows, "rows"), try int(width, "width"), try int(s[0].rows, "table"),
                                       try int(context.cursor, "cursor")], global: [rows * width], local: local)
        case .adam(let h):
            let (c1, c2) = h.biasCorrections(step: context.step)
            let n = s[0].count
            try launch("adam", [x[0], x[1], x[2], x[3], try int(n, "adam"), .float(h.learningRate), .float(h.beta1), .float(h.beta2),
                                .float(h.epsilon), .float(c1), .float(c2)], global: [n], local: local)
        case .sgd(let lr):
            let n = s[0].count
            try launch("sgd", [x[0], x[1], try int(n, "sgd"), .float(lr)], global: [n], local: local)
        }
    }

    /// C[M, N] = op(A)·op(B) (+ bias, activation): the register-tiled kernel for the layout when
    /// the matrix holds at least one tile, else the one-element-per-work-item kernel.
    func gemm(c: KernelArgument, a: KernelArgument, b: KernelArgument, bias: KernelArgument?, m: Int, n: Int, k: Int,
                      transposeA: Bool, transposeB: Bool, activation: Activation) throws(OpenCLError) {
        let sizes = [try int(m, "M"), try int(n, "N"), try int(k, "K")]
        let (code, slope) = activation.kernelCode
        switch (transposeA, transposeB) {
        case (false, true) where m >= 3 && n >= 4:
            let local = [tiles.local2D[1], tiles.local2D[0]]  // dimension 0 walks rows here (see dot_tile)
            if let bias {
                try launch("linear_nt_" + activation.kernelSuffix, [c, a, b, bias] + sizes + [.float(slope)],
                           global: [(m + 2) / 3, (n + 3) / 4], local: local)
            } else {
                try launch("matmul_nt", [c, a, b] + sizes, global: [(m + 2) / 3, (n + 3) / 4], local: local)
            }
        case (_, false) where m >= tiles.nnRows && n >= 16 && bias == nil:
            try launch(transposeA ? "matmul_tn" : "matmul_nn", [c, a, b] + sizes,
                       global: [(n + 15) / 16, (m + tiles.nnRows - 1) / tiles.nnRows], local: tiles.local2D)
        default:
            try launch("matmul_generic", [c, a, b, bias ?? a] + sizes + [.int(transposeA ? 1 : 0), .int(transposeB ? 1 : 0),
                                                                       .int(bias == nil ? 0 : 1), .int(code), .float(slope)],
                       global: [n, m], local: [1, 1])
        }
    }

    private func reduce(_ r: Reduction, _ axis: ReductionAxis, y: KernelArgument, x: KernelArgument, shape: Shape) throws {
        if axis == .channels { return try reduce_channels(y, x, r, shape: shape) }  // sum or mean (the shape rule refuses log-sum-exp)
        if r == .logSumExp {
            switch axis {
            case .rows:
                let n = shape.columns
                try launch("logsumexp_rows", [y, x, try int(shape.rows, "rows"), try int(n, "columns")], global: [n], local: [tiles.local1D])
            case .all, .channels:
                let n = shape.count
                let parts = (n + reductionChunk - 1) / reductionChunk
                let partial = try scratchBuffer(bytes: parts * 8)
                try launch("logsumexp_partial", [.buffer(partial), x, try int(n, "reduce"), .int(Int32(reductionChunk)), try int(parts, "parts")],
                           global: [parts], local: [tiles.local1D])
                try launch("logsumexp_final", [y, .buffer(partial), try int(parts, "parts")], global: [1], local: [1])
            }
            return
        }
        switch axis {
        case .rows:
            let (m, n) = (shape.rows, shape.columns)
            try launch("reduce_rows", [y, x, try int(m, "rows"), try int(n, "columns"), .float(r == .mean ? 1 / Float(m) : 1)],
                       global: [n], local: [tiles.local1D])
        case .all, .channels:
            let n = shape.count
            let parts = (n + reductionChunk - 1) / reductionChunk
            let partial = try scratchBuffer(bytes: parts * 4)
            try launch("reduce_partial", [.buffer(partial), x, try int(n, "reduce"), .int(Int32(reductionChunk)), try int(parts, "parts")],
                       global: [parts], local: [tiles.local1D])
            try launch("reduce_final", [y, .buffer(partial), try int(parts, "parts"), .float(r == .mean ? 1 / Float(n) : 1)],
                       global: [1], local: [1])
        }
    }
}
