import CPUBackend
import Engine
import Testing

/// Finite-difference checks of the convolution ops' vector-Jacobian rules, and their CPU
/// forward passes against a direct loop over the definition.
@Suite struct ConvolutionGradientTests {
    let check = GradientCheck(probes: 10)

    /// (batch, channels, height, width, out channels, kernel, stride, padding): odd sizes,
    /// strides 1 and 2, padding 0–2, kernels 1, 3, 4, 5, channels 1, 3, 7, batch 1.
    static let cases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
        (1, 1, 5, 5, 2, 3, 1, 1), (2, 3, 7, 6, 4, 3, 2, 1), (1, 7, 4, 5, 3, 1, 1, 0),
        (2, 1, 8, 8, 3, 4, 2, 1), (1, 3, 9, 7, 2, 5, 2, 2), (3, 2, 6, 9, 1, 4, 1, 2),
    ]

    @Test(arguments: cases)
    func conv2dGradientMatchesFiniteDifferences(_ c: (Int, Int, Int, Int, Int, Int, Int, Int)) throws {
        let (n, ch, h, w, o, k, s, p) = c
        for act in [Activation.identity, .tanh] {
            try check.run("conv2d \(c) \(act)") { g in
                let x = try g.parameter("x", Shape(n, ch, h, w), .uniform(bound: 1))
                let weight = try g.parameter("W", Shape(o, ch, k, k), .uniform(bound: 0.5))
                let b = try g.parameter("b", Shape(o), .uniform(bound: 0.5))
                let y = try g.conv2d(x, weight: weight, bias: b, stride: s, padding: p, activation: act)
                return .init(output: y, wrt: [x, weight, b])
            }
        }
    }

    @Test(arguments: cases)
    func convTranspose2dGradientMatchesFiniteDifferences(_ c: (Int, Int, Int, Int, Int, Int, Int, Int)) throws {
        let (n, ch, h, w, o, k, s, p) = c
        for outputPadding in Set([0, s - 1]) {
            try check.run("convTranspose2d \(c) op \(outputPadding)") { g in
                let x = try g.parameter("x", Shape(n, ch, h, w), .uniform(bound: 1))
                let weight = try g.parameter("W", Shape(ch, o, k, k), .uniform(bound: 0.5))
                let b = try g.parameter("b", Shape(o), .uniform(bound: 0.5))
                let y = try g.convTranspose2d(x, weight: weight, bias: b, stride: s, padding: p, outputPadding: outputPadding, activation: .sigmoid)
                return .init(output: y, wrt: [x, weight, b])
            }
        }
    }

    @Test func reshapeAndFlattenGradientsMatchFiniteDifferences() throws {
        try check.run("reshape") { g in
            let x = try g.parameter("x", Shape(2, 3, 2, 2), .uniform(bound: 1))
            let flat = try g.flatten(x)
            let w = try g.parameter("W", Shape(5, 12), .uniform(bound: 0.5)), b = try g.parameter("b", Shape(5), .uniform(bound: 0.5))
            let h = try g.linear(flat, weight: w, bias: b, activation: .tanh)
            return .init(output: try g.reshape(h, Shape(2, 5, 1, 1)), wrt: [x, w, b])
        }
    }

    /// The CPU backend's conv2d and convTranspose2d against direct loops written from the
    /// definitions in `Op`, and the adjoint identity ⟨convᵀ(dy), x⟩ = ⟨dy, conv(x)⟩.
    @Test(arguments: cases)
    func cpuConvolutionsMatchTheirDefinitions(_ c: (Int, Int, Int, Int, Int, Int, Int, Int)) throws {
        let (n, ch, h, w, o, k, s, p) = c
        let g = Graph()
        let x = try g.parameter("x", Shape(n, ch, h, w), .uniform(bound: 1))
        let weight = try g.parameter("W", Shape(o, ch, k, k), .uniform(bound: 1))
        let b = try g.parameter("b", Shape(o), .uniform(bound: 1))
        let y = try g.conv2d(x, weight: weight, bias: b, stride: s, padding: p)
        let outShape = ImageShape(g.shape(y))
        let dy = try g.parameter("dy", g.shape(y), .uniform(bound: 1))
        let geometry = ConvolutionGeometry(stride: s, padding: p).restoring(height: h, width: w, kernelHeight: k, kernelWidth: k)
        let back = try g.apply(.convTranspose2d(geometry, activation: .identity, bias: false), [dy, weight])[0]
        let executor = try Executor(graph: g, backend: CPUBackend(), seed: 8)
        let plan = try executor.compile(outputs: [y, back])
        try executor.run(plan)
        let (xv, wv, bv) = (try executor.value(of: x), try executor.value(of: weight), try executor.value(of: b))
        let (yv, dyv, backv) = (try executor.value(of: y, in: plan), try executor.value(of: dy), try executor.value(of: back, in: plan))
        #expect(g.shape(back) == g.shape(x))
        var worst: Float = 0
        for ni in 0..<n { for oi in 0..<o { for v in 0..<outShape.height { for u in 0..<outShape.width {
            var acc = bv[oi]
            for ci in 0..<ch { for i in 0..<k { for j in 0..<k {
                let yy = v * s - p + i, xx = u * s - p + j
                guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                acc += wv[((oi * ch + ci) * k + i) * k + j] * xv[((ni * ch + ci) * h + yy) * w + xx]
            } } }
            worst = max(worst, abs(acc - yv[((ni * o + oi) * outShape.height + v) * outShape.width + u]))
        } } } }
        #expect(worst < 1e-4, "conv2d differs from its definition by \(worst)")
        // ⟨dy, conv(x) − b⟩ = ⟨convᵀ(dy), x⟩.
        var lhs = 0.0, rhs = 0.0
        for i in 0..<yv.count { lhs += Double(dyv[i]) * Double(yv[i] - bv[(i / outShape.plane) % o]) }
        for i in 0..<xv.count { rhs += Double(backv[i]) * Double(xv[i]) }
        #expect(abs(lhs - rhs) < 1e-3 * max(1, abs(lhs)), "adjoint identity: \(lhs) vs \(rhs)")
    }

    @Test func shapeRulesNameTheOpAndTheShapes() throws {
        let g = Graph()
        let x = try g.input("x", Shape(2, 3, 5, 5))
        let w = try g.parameter("W", Shape(4, 2, 3, 3), .zeros)
        #expect(throws: GraphError.self) { try g.conv2d(x, weight: w, bias: nil) }
        let big = try g.parameter("Wbig", Shape(4, 3, 7, 7), .zeros)
        do { _ = try g.conv2d(x, weight: big, bias: nil); Issue.record("a 7×7 kernel on 5×5 must fail") } catch {
            #expect("\(error)".contains("7×7") && "\(error)".contains("5×5"), "\(error)")
        }
        let wt = try g.parameter("Wt", Shape(3, 2, 4, 4), .zeros)
        #expect(throws: GraphError.self) { try g.convTranspose2d(x, weight: wt, bias: nil, stride: 2, outputPadding: 2) }
        #expect(throws: GraphError.self) { try g.reshape(x, Shape(7, 7)) }
        #expect(throws: GraphError.self) { try g.input("five", Shape(1, 2, 3, 4, 5)) }
    }
}
