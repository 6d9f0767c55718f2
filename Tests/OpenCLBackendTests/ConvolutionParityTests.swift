import CPUBackend
import Engine
@testable import OpenCLBackend
import Testing

/// The convolution ops on OpenCL (PoCL in CI) against the CPU reference, on awkward shapes:
/// odd sizes, strides 1 and 2, padding 0–2, kernels 1, 3, 4, 5, channels 1, 3, 7, batch 1,
/// and the default conv VAE's layers; on every device present, with its own and the GPU kernel configuration.
@Suite struct ConvolutionParityTests {
    /// (batch, channels, height, width, out channels, kernel, stride, padding).
    static let cases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
        (1, 1, 1, 1, 1, 1, 1, 0), (1, 1, 5, 5, 2, 3, 1, 1), (2, 3, 7, 6, 4, 3, 2, 1), (1, 7, 4, 5, 3, 1, 1, 0),
        (2, 1, 8, 8, 3, 4, 2, 1), (1, 3, 9, 7, 2, 5, 2, 2), (3, 2, 6, 9, 1, 4, 1, 2), (7, 3, 33, 17, 7, 5, 2, 2),
        (33, 1, 28, 28, 32, 4, 2, 1), (33, 32, 14, 14, 64, 4, 2, 1), (1, 7, 129, 3, 1, 3, 1, 1),
    ]

    static func backends() throws -> [Parity] {
        try Parity.everyDevice() + Parity.everyDevice(tiles: .gpu)
    }

    @Test func convolutionsAndTheirGradientsMatchCPU() throws {
        for parity in try Self.backends() {
            for (n, c, h, w, o, k, s, p) in Self.cases {
                let x = TensorSpec(Shape(n, c, h, w)), weight = TensorSpec(Shape(o, c, k, k)), bias = TensorSpec(Shape(o))
                let xv = Parity.values(x.count, stream: 1), wv = Parity.values(weight.count, stream: 2, bound: 0.3)
                let forward = ConvolutionGeometry(stride: s, padding: p)
                for (act, withBias) in [(Activation.relu, true), (.identity, false), (.sigmoid, true)] {
                    try parity.check(.conv2d(forward, activation: act, bias: withBias),
                                     [(x, xv), (weight, wv)] + (withBias ? [(bias, Parity.values(o, stream: 3))] : []))
                }
                let out = try Op.conv2d(forward, activation: .identity, bias: false).outputSpecs(for: [x, weight])[0]
                let dy = Parity.values(out.count, stream: 4)
                try parity.check(.conv2dWeightGradient(forward, kernelHeight: k, kernelWidth: k), [(x, xv), (out, dy)])
                // The input gradient: a transposed convolution back to exactly h × w.
                let back = forward.restoring(height: h, width: w, kernelHeight: k, kernelWidth: k)
                try parity.check(.convTranspose2d(back, activation: .identity, bias: false), [(out, dy), (weight, wv)])
                // A decoder layer: [n, c, h, w] up to a larger image, every output padding, with bias.
                let up = TensorSpec(Shape(c, o, k, k))
                for outputPadding in 0..<s {
                    try parity.check(.convTranspose2d(ConvolutionGeometry(stride: s, padding: p, outputPadding: outputPadding), activation: .relu, bias: true),
                                     [(x, xv), (up, Parity.values(up.count, stream: 5, bound: 0.3)), (bias, Parity.values(o, stream: 6))])
                }
                try parity.check(.reduce(.sum, .channels), [(out, dy)])
                try parity.check(.reduce(.mean, .channels), [(out, dy)])
                try parity.check(.reshape(Shape(out.count)), [(out, dy)])
            }
        }
    }

    /// A bias gradient's channel sum stays close to its float64 value on both backends. Like the
    /// last layer of a trained image model: batch 128 of 28×28, 70% of the values the same tiny
    /// number (background pixels), the rest ±4e-3 around a positive mean, so the running total
    /// grows to ~9 and a single float accumulator rounds every tiny addend the same way. The
    /// former sums fail it: the CPU's one float over the batch by 8.7e-5 of Σ|x|, OpenCL's one
    /// set of lanes over the batch by 2.6e-6.
    @Test func channelSumsStayCloseToFloat64() throws {
        let shape = Shape(128, 2, 28, 28), image = ImageShape(shape), count = shape.count
        let u = Parity.values(count, stream: 7, unit: true), v = Parity.values(count, stream: 8, bound: 4e-3)
        let x = zip(u, v).map { $0 < 0.7 ? 1.1e-6 * (1 + 0.01 * $0) : $1 + 3e-4 }
        var exact = [Double](repeating: 0, count: image.channels), magnitude = exact
        for (i, value) in x.enumerated() {
            let c = (i / image.plane) % image.channels
            exact[c] += Double(value)
            magnitude[c] += Double(abs(value))
        }
        let parities = try Self.backends()
        for backend in [parities[0].cpu] + parities.map(\.gpu) as [any Backend] {
            let y = try parities[0].outputs(on: backend, .reduce(.sum, .channels), [(TensorSpec(shape), x)], context: RunContext())[0]
            for c in 0..<image.channels {
                let error = abs(Double(y[c]) - exact[c]) / magnitude[c]
                #expect(error <= 1e-6, "\(backend.deviceDescription) channel \(c): \(y[c]) against \(exact[c]) in float64, error \(error) of Σ|x|")
            }
        }
    }
}
