import CPUBackend
import Engine
import OpenCLBackend

/// Every kernel of Kernels/ run once or more on small, awkward shapes (sizes 1, 5, 7, 33, 65:
/// none a multiple of a tile), each op's result compared with the CPU backend's. `vae
/// check-kernels` runs it on a device, in one or both kernel structures; the Oclgrind test runs
/// it inside the simulator, whose race and bounds checkers then see every kernel. Shapes are
/// small because a simulator interprets each work-item.
public struct KernelCheck {
    /// One op's outcome: the largest |OpenCL − CPU| over (1 + largest |CPU|) of its outputs.
    public struct Result: Sendable {
        public var op: String
        public var shapes: String
        public var difference: Float
        /// Within `tolerance` (NaN is not).
        public var passes: Bool { difference <= KernelCheck.tolerance }
    }

    /// The bound on `Result.difference` (float32 sums in another order, and the CPU structure's
    /// polynomial exp/log).
    public static let tolerance: Float = 1e-4

    let cpu = CPUBackend(threads: 1)
    let gpu: OpenCLBackend

    public init(_ backend: OpenCLBackend) { gpu = backend }

    /// Runs every case (or only the products and convolutions, the ops whose kernels tuning
    /// changes); `progress` gets each result as it comes.
    public func run(productsOnly: Bool = false, progress: (Result) -> Void = { _ in }) throws -> [Result] {
        var results: [Result] = []
        for (op, inputs, context) in Self.cases() where !productsOnly || Self.isProduct(op) {
            let worst = Self.relativeDifference(try Self.outputs(on: cpu, op, inputs, context), try Self.outputs(on: gpu, op, inputs, context))
            let result = Result(op: op.name, shapes: inputs.map { "\($0.0.shape)" }.joined(separator: " "), difference: worst)
            results.append(result)
            progress(result)
        }
        if !productsOnly { results.append(try philoxResult()) }
        return results
    }

    static func isProduct(_ op: Op) -> Bool {
        switch op {
        case .matmul, .linear, .conv2d, .convTranspose2d, .conv2dWeightGradient: true
        default: false
        }
    }

    /// The kernels of this backend's structure that no case launched (empty when the check
    /// covers them all).
    public var unlaunchedKernels: [String] {
        OpenCLBackend.kernelNames(for: gpu.structure).filter { !gpu.launchedKernelNames.contains($0) }
    }

    /// Largest |actual − expected| over (1 + largest |expected|) across all outputs (∞ for NaN).
    public static func relativeDifference(_ expected: [[Float]], _ actual: [[Float]]) -> Float {
        var worst: Float = 0
        for (e, a) in zip(expected, actual) {
            let scale = 1 + (e.map(abs).max() ?? 0)
            let diff = zip(e, a).map { abs($0 - $1) }.max() ?? 0
            worst = max(worst, diff.isNaN ? .infinity : diff / scale)
        }
        return worst
    }

    /// Runs `op` once on `backend` with `inputs` uploaded; returns every output, then every
    /// input it updates in place.
    public static func outputs(on backend: any Backend, _ op: Op, _ inputs: [(TensorSpec, [Float])], _ context: RunContext) throws -> [[Float]] {
        let specs = try op.outputSpecs(for: inputs.map(\.0))
        let ins = try inputs.map { spec, values in
            TensorBuffer(try Self.buffer(on: backend, values, as: spec.dtype), spec)
        }
        let outs = try specs.map { TensorBuffer(try backend.allocate(bytes: $0.byteCount), $0) }
        try backend.execute(op, inputs: ins, outputs: outs, context: context)
        return try (outs + op.mutatedInputs.map { ins[$0] }).map { try backend.download($0.buffer, count: $0.spec.count) }
    }

    /// A buffer on `backend` holding `values` as `dtype` (int32 and uint8 values are whole numbers).
    public static func buffer(on backend: any Backend, _ values: [Float], as dtype: DType) throws -> any DeviceBuffer {
        switch dtype {
        case .float32: try backend.makeBuffer(values)
        case .int32: try backend.makeBuffer(values.map { Int32($0) })
        case .uint8: try backend.makeBuffer(values.map { UInt8($0) })
        }
    }

    /// The device's Philox4x32-10 bits against the host's: any difference is a failure (∞).
    func philoxResult() throws -> Result {
        let (seed, step, sample): (UInt64, UInt64, UInt32) = (0xDEAD_BEEF_1234_5678, 1 << 40 | 17, 9)
        let bits = try gpu.philoxBits(blocks: 33, seed: seed, step: step, sample: sample)
        var same = bits.count == 33 * 4
        for block in 0..<33 where same {
            let r = Philox.block(counter: (UInt32(block), sample, UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32)),
                                 key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
            same = Array(bits[block * 4..<block * 4 + 4]) == [r.0, r.1, r.2, r.3]
        }
        return Result(op: "philoxBits", shapes: "[33, 4]", difference: same ? 0 : .infinity)
    }

    /// Deterministic values in (−bound, bound), or in [0, 1) where `unit` is set.
    public static func values(_ count: Int, stream: UInt32, bound: Float = 1, unit: Bool = false) -> [Float] {
        let u = Philox.uniforms(count: count, bound: unit ? 0.5 : bound, seed: 2024, stream: stream)
        return unit ? u.map { $0 + 0.5 } : u
    }

    static func input(_ shape: Shape, stream: UInt32, bound: Float = 1, unit: Bool = false) -> (TensorSpec, [Float]) {
        (TensorSpec(shape), values(shape.count, stream: stream, bound: bound, unit: unit))
    }

    /// The cases: every op, with the parameters that select each kernel.
    static func cases() -> [(Op, [(TensorSpec, [Float])], RunContext)] {
        var cases: [(Op, [(TensorSpec, [Float])], RunContext)] = []
        func add(_ op: Op, _ inputs: [(TensorSpec, [Float])], _ context: RunContext = RunContext(step: 12)) { cases.append((op, inputs, context)) }
        // (17, 18, 2049): K in pieces and sum_partials (OpenCLBackend.KSplit), in the narrow NN/TN
        // tiles of 16-float vectors (N under two vectors: 2·NN_ROWS rows of one vector) shifted
        // back on both edges; (25, 12, 9): the narrow tiles of 8-float vectors; (129, 33, 70): NT
        // through matmul_nt_panel, in two groups of row tiles, the last tile and panel shifted back,
        // K not a whole number of blocks.
        for (m, n, k) in [(1, 1, 1), (7, 33, 5), (33, 7, 65), (65, 70, 17), (17, 18, 2049), (25, 12, 9), (129, 33, 70)] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                add(.matmul(transposeA: ta, transposeB: tb), [input(ta ? Shape(k, m) : Shape(m, k), stream: 1), input(tb ? Shape(n, k) : Shape(k, n), stream: 2)])
            }
        }
        for act in Activation.all {
            for (m, n, k) in [(7, 33, 65), (65, 70, 17)] + (act == .softplus ? [(5, 9, 2049)] : []) + (act == .relu ? [(129, 33, 70)] : []) {
                add(.linear(activation: act), [input(Shape(m, k), stream: 1), input(Shape(n, k), stream: 2), input(Shape(n), stream: 3)])
            }
            let x = input(Shape(7, 33), stream: 4, bound: 4)
            add(.activation(act), [x])
            add(.activationGradient(act), [(x.0, values(x.0.count, stream: 5, unit: true)), input(Shape(7, 33), stream: 6)])
        }
        let matrix = Shape(7, 33)
        add(.add, [input(matrix, stream: 1), input(matrix, stream: 2)])
        for r in [Reduction.sum, .mean, .logSumExp] {
            add(.reduce(r, .rows), [input(matrix, stream: 3)])
            add(.reduce(r, .all), [input(Shape(65, 70), stream: 4)])
        }
        add(.reduce(.sum, .channels), [input(Shape(2, 3, 5, 7), stream: 5)])
        add(.broadcast(matrix, scale: -0.5), [input(Shape(33), stream: 5)])
        add(.broadcast(matrix, scale: 3), [(TensorSpec(.scalar), [0.25])])
        add(.gather(rows: 7), [input(Shape(20, 33), stream: 6), (TensorSpec(Shape(12), .int32), (0..<12).map { Float(($0 * 7) % 20) })],
            RunContext(cursor: 3))
        add(.gatherPalette(rows: 7), [(TensorSpec(Shape(20, 33), .uint8), (0..<660).map { Float(($0 * 37) % 256) }),
                                      (TensorSpec(Shape(12), .int32), (0..<12).map { Float(($0 * 7) % 20) }), input(Shape(256), stream: 7)],
            RunContext(cursor: 3))
        add(.randomNormal(matrix, seed: 77), [])
        let latent = Shape(7, 5)
        add(.reparameterize(seed: 5, sample: 3), [input(latent, stream: 1), input(latent, stream: 2, bound: 3)])
        add(.reparameterizeGradient(seed: 5, sample: 3), [input(latent, stream: 2, bound: 3), input(latent, stream: 3)])
        let likelihoods: [Likelihood] = [.bernoulli, .gaussian(sigma: 0.3), .calibratedGaussian, .calibratedGaussianPerFeature, .gaussianPerFeature]
        for likelihood in likelihoods {
            for kl in KLEstimator.allCases {
                let objective = VAEObjective(likelihood: likelihood, beta: 0.7, kl: kl)
                var inputs = [input(matrix, stream: 1, unit: true), input(matrix, stream: 2, bound: 4), input(latent, stream: 3), input(latent, stream: 4, bound: 2)]
                if kl == .monteCarlo { inputs.append(input(latent, stream: 5, bound: 2)) }
                if likelihood == .gaussianPerFeature { inputs.append((TensorSpec(Shape(33)), values(33, stream: 6).map { 0.05 + $0 * $0 })) }
                add(.vaeLoss(objective), inputs)
                add(.vaeLossGradient(objective), inputs + [(TensorSpec(.scalar), [1.5])])
                add(.vaeLossWithGradient(objective), inputs + [(TensorSpec(.scalar), [1.5])])
            }
        }
        // A layer's input gradient through the previous activation, alone and with another
        // gradient added: for the ReLU the wide and narrow tiles at both vector widths, edges
        // shifted back; the fallbacks (smaller than a tile, K in pieces, other activations).
        for (m, n, k) in [(7, 33, 65), (65, 70, 17), (17, 18, 9), (25, 12, 9), (1, 1, 1), (5, 9, 2049)] {
            let product = [input(Shape(m, k), stream: 1), input(Shape(k, n), stream: 2), input(Shape(m, n), stream: 3)]
            for act in [Activation.relu, .leakyReLU(slope: 0.1), .tanh, .sigmoid] {
                add(.productActivationGradient(act, accumulate: false), product)
                add(.productActivationGradient(act, accumulate: true), product + [input(Shape(m, n), stream: 4)])
            }
        }
        let parameters = Shape(129)
        add(.adam(AdamHyperparameters()), [input(parameters, stream: 1), input(parameters, stream: 2), input(parameters, stream: 3),
                                           (TensorSpec(parameters), values(129, stream: 4).map { $0 * $0 })], RunContext(step: 41))
        add(.adamSummingRows(AdamHyperparameters()), [input(parameters, stream: 1), input(Shape(7, 129), stream: 2), input(parameters, stream: 3),
                                                      (TensorSpec(parameters), values(129, stream: 4).map { $0 * $0 })], RunContext(step: 41))
        // A weight update with its gradient Aᵀ·B formed in place: the wide and narrow tiles of both
        // vector widths (N = 33, 70: wide; 18: narrow at 16 floats; 12: narrow at 8), edges shifted
        // back; and the fallbacks (one element, K in pieces). With the layer's bias step as well.
        for (m, n, k) in [(7, 33, 65), (65, 70, 17), (17, 18, 9), (25, 12, 9), (1, 1, 1), (5, 9, 2049)] {
            let weight = [input(Shape(m, n), stream: 1), input(Shape(k, m), stream: 2), input(Shape(k, n), stream: 3),
                          input(Shape(m, n), stream: 4), (TensorSpec(Shape(m, n)), values(m * n, stream: 5).map { $0 * $0 })]
            let bias = [input(Shape(m), stream: 6), input(Shape(m), stream: 7), (TensorSpec(Shape(m)), values(m, stream: 8).map { $0 * $0 })]
            add(.adamTransposedProduct(AdamHyperparameters(), bias: false), weight, RunContext(step: 41))
            add(.adamTransposedProduct(AdamHyperparameters(), bias: true), weight + bias, RunContext(step: 41))
        }
        add(.sgd(learningRate: 0.1), [input(parameters, stream: 1), input(parameters, stream: 2)])
        // (batch, channels, height, width, out channels, kernel, stride, padding)
        for (n, c, h, w, o, k, s, p) in [(1, 1, 5, 5, 2, 3, 1, 1), (2, 3, 7, 6, 4, 3, 2, 1), (1, 7, 4, 5, 3, 1, 1, 0), (2, 1, 8, 8, 3, 4, 2, 1),
                                         (1, 3, 9, 7, 2, 5, 2, 2)] {
            let x = input(Shape(n, c, h, w), stream: 1), weight = input(Shape(o, c, k, k), stream: 2, bound: 0.3)
            let geometry = ConvolutionGeometry(stride: s, padding: p)
            add(.conv2d(geometry, activation: .relu, bias: true), [x, weight, input(Shape(o), stream: 3)])
            add(.conv2d(geometry, activation: .identity, bias: false), [x, weight])
            let out = TensorSpec(Shape(n, o, geometry.convolved(h, kernel: k), geometry.convolved(w, kernel: k)))
            let dy = (out, values(out.count, stream: 4))
            add(.conv2dWeightGradient(geometry, kernelHeight: k, kernelWidth: k), [x, dy])
            add(.convTranspose2d(geometry.restoring(height: h, width: w, kernelHeight: k, kernelWidth: k), activation: .identity, bias: false), [dy, weight])
            for outputPadding in 0..<s {
                add(.convTranspose2d(ConvolutionGeometry(stride: s, padding: p, outputPadding: outputPadding), activation: .sigmoid, bias: true),
                    [x, input(Shape(c, o, k, k), stream: 5, bound: 0.3), input(Shape(o), stream: 6)])
            }
        }
        return cases
    }
}
