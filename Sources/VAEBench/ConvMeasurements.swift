import CPUBackend
import Engine
import VAE

/// Convolution measurements of `vae bench`: each op of the default conv VAE's widest layers
/// beside the OpenBLAS GEMM it lowers to (the same product on the CPU, measured in the same run),
/// and a whole conv training step.
public enum ConvMeasurements {
    /// (name, op, input specs, the GEMM it lowers to).
    public static let layers: [(name: String, op: Op, inputs: [TensorSpec], gemm: GEMMShape)] = {
        let g = ConvolutionGeometry(stride: 2, padding: 1)
        let x = TensorSpec(Shape(128, 32, 14, 14)), w = TensorSpec(Shape(64, 32, 4, 4)), b = TensorSpec(Shape(64))
        let y = TensorSpec(Shape(128, 64, 7, 7))
        return [
            ("conv2d 32→64 14×14 forward", .conv2d(g, activation: .relu, bias: true), [x, w, b], GEMMShape(64, 128 * 49, 512)),
            ("conv2d input gradient", .convTranspose2d(g, activation: .identity, bias: false), [y, w], GEMMShape(512, 128 * 49, 64, true, false)),
            ("conv2d weight gradient", .conv2dWeightGradient(g, kernelHeight: 4, kernelWidth: 4), [x, y], GEMMShape(64, 512, 128 * 49, false, true)),
        ]
    }()

    static func report(on backend: any Backend, reference: CPUBackend, peak: Double, quick: Bool, say: (String) -> Void) throws {
        say("convolutions (batch 128, k4 s2 p1)   GFLOP/s   its GEMM on OpenBLAS   ratio")
        for (name, op, specs, gemm) in layers {
            let mine = try OpBench(op, inputs: specs, on: backend).time(count: 5)
            let blas = try OpBench(.matmul(transposeA: gemm.transposeA, transposeB: gemm.transposeB), inputs: gemm.inputSpecs, on: reference).time(count: 5)
            afterOpenBLASReference()
            let (g, r) = (gemm.flops / mine.median / 1e9, gemm.flops / blas.median / 1e9)
            say("\(name.padding(toLength: 36, withPad: " ", startingAt: 0)) \(format(g))   \(format(r))        \(format(g / r, digits: 2))")
        }
        var model = ModelConfiguration()
        model.architecture = .conv
        let step = try measureTrainingStep(on: backend, steps: quick ? 4 : 12, model: model)
        let flops = convTrainingFLOPsPerSample(model)
        let samples = 128 / step.median
        say("conv training step 1×28×28-32-64-256-20, batch 128: \(format(step.median * 1e3)) ms, \(Int(samples)) samples/s, "
            + "\(format(samples * flops / 1e9)) GFLOP/s = \(format(100 * samples * flops / 1e9 / peak))% of peak (\(format(flops / 1e6)) MFLOP per sample); "
            + "an epoch of 60000: \(format(468 * step.median)) s")
        if !quick { reportOpProfile(try profileTrainingStep(on: backend, runs: 5, model: model), say: say) }
    }

    static func format(_ v: Double, digits: Int = 1) -> String {
        let scale = digits == 2 ? 100.0 : 10.0
        return String((v * scale).rounded() / scale)
    }
}

/// FLOPs of one conv-VAE training sample: every layer's forward product and its two backward
/// products (input and weight gradients), less the first layer's input gradient.
public func convTrainingFLOPsPerSample(_ m: ModelConfiguration) -> Double {
    let channels = [m.imageShape[0]] + m.convChannels
    let sizes = m.convolvedSizes
    let k2 = m.kernelSize * m.kernelSize
    var macs: [Int] = []
    for i in 0..<m.convChannels.count {
        let conv = sizes[i + 1].height * sizes[i + 1].width * channels[i + 1] * channels[i] * k2
        macs.append(conv)
    }
    let features = channels[channels.count - 1] * sizes[sizes.count - 1].height * sizes[sizes.count - 1].width
    let dense = [features * m.denseWidth, 2 * m.denseWidth * m.latentSize, m.latentSize * m.denseWidth, m.denseWidth * features]
    let forward = 2 * macs.reduce(0, +) + dense.reduce(0, +)  // each conv has a transposed twin of the same work
    return 2 * Double(3 * forward - macs[0])
}
