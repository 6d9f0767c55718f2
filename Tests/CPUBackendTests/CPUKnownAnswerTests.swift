import CPUBackend
import Engine
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Ops checked against values computed by hand (the ones a finite-difference check cannot
/// cover, and the loss's value itself).
@Suite struct CPUKnownAnswerTests {
    let backend = CPUBackend()

    /// Runs one op on fresh buffers and returns its outputs.
    func run(_ op: Op, _ inputs: [([Float], TensorSpec)], context: RunContext = RunContext()) throws -> [[Float]] {
        let specs = try op.outputSpecs(for: inputs.map(\.1))
        let ins = try inputs.map { values, spec in
            let buffer = switch spec.dtype {
            case .float32: try backend.makeBuffer(values)
            case .int32: try backend.makeBuffer(values.map { Int32($0) })
            case .uint8: try backend.makeBuffer(values.map { UInt8($0) })
            }
            return TensorBuffer(buffer, spec)
        }
        let outs = try specs.map { TensorBuffer(try backend.allocate(bytes: $0.byteCount), $0) }
        try backend.execute(op, inputs: ins, outputs: outs, context: context)
        return try outs.map { try backend.download($0.buffer, count: $0.spec.count) }
            + ins.map { $0.spec.dtype == .uint8 ? [] : try backend.download($0.buffer, count: $0.spec.count) }
    }

    /// Inside the backend's loops denormals read and round to zero (as in XLA); the caller's
    /// thread keeps its own floating-point state.
    @Test func denormalsAreFlushedInsideTheBackendOnly() throws {
        let tiny: Float = 1e-39  // a denormal
        #expect(tiny != 0 && !tiny.isNormal)
        let out = try run(.add, [([tiny, 1, -tiny], TensorSpec(Shape(3))), ([0, 1, 0], TensorSpec(Shape(3)))])
        #expect(out[0] == [0, 2, 0])
        let zero: Float = 0
        #expect(tiny + zero == tiny)  // this thread still computes with denormals
    }

    @Test func gatherCopiesRowsFromTheCursor() throws {
        let table: [Float] = [0, 1, 10, 11, 20, 21, 30, 31]
        let out = try run(.gather(rows: 2), [(table, TensorSpec(Shape(4, 2))), ([3, 0, 2, 1], TensorSpec(Shape(4), .int32))],
                          context: RunContext(cursor: 1))
        #expect(out[0] == [0, 1, 20, 21])
    }

    @Test func gatherPaletteReadsEachByteThroughThePalette() throws {
        let palette = (0..<256).map { Float($0) / 255 }
        let out = try run(.gatherPalette(rows: 2), [([0, 1, 10, 11, 20, 255, 30, 31], TensorSpec(Shape(4, 2), .uint8)),
                                                    ([3, 0, 2, 1], TensorSpec(Shape(4), .int32)), (palette, TensorSpec(Shape(256)))],
                          context: RunContext(cursor: 1))
        #expect(out[0] == [0, 1, 20, 255].map { Float($0) / 255 })
        #expect(throws: BackendError.self) {
            try run(.gatherPalette(rows: 1), [([1, 2, 3, 4], TensorSpec(Shape(2, 2), .uint8)), ([5], TensorSpec(Shape(1), .int32)),
                                              (palette, TensorSpec(Shape(256)))])
        }
    }

    @Test func gatherRejectsIndicesOutsideTheTable() throws {
        let spec = TensorSpec(Shape(2, 2))
        #expect(throws: BackendError.self) {
            try run(.gather(rows: 1), [([1, 2, 3, 4], spec), ([5], TensorSpec(Shape(1), .int32))])
        }
        #expect(throws: BackendError.self) {
            try run(.gather(rows: 2), [([1, 2, 3, 4], spec), ([0, 1], TensorSpec(Shape(2), .int32))], context: RunContext(cursor: 1))
        }
    }

    @Test func adamTakesTheTextbookFirstSteps() throws {
        // At t = 1, m̂ = g and v̂ = g², so the step is lr·g/(|g| + ε) ≈ lr·sign(g).
        let h = AdamHyperparameters(learningRate: 0.1)
        let spec = TensorSpec(Shape(3))
        let out = try run(.adam(h), [([1, 2, 3], spec), ([0.5, -2, 0], spec), ([0, 0, 0], spec), ([0, 0, 0], spec)])
        let (p, m, v) = (out[0], out[2], out[3])
        #expect(abs(p[0] - 0.9) < 1e-6 && abs(p[1] - 2.1) < 1e-6 && p[2] == 3)
        // In float32, 1 − β₂ is 0.0010000467, not 0.001: the moments are (1 − β)·g and (1 − β)·g².
        let (oneMinusB1, oneMinusB2) = (1 - h.beta1, 1 - h.beta2)
        #expect(m == [0.5 * oneMinusB1, -2 * oneMinusB1, 0])
        #expect(v == [0.25 * oneMinusB2, 4 * oneMinusB2, 0])
        // Second step from the stored moments, by the formula.
        let out2 = try run(.adam(h), [(p, spec), ([1, 1, 1], spec), (m, spec), (v, spec)], context: RunContext(step: 1))
        let m2 = 0.9 * Double(m[0]) + 0.1, v2 = 0.999 * Double(v[0]) + 0.001
        let expected = Double(p[0]) - 0.1 * (m2 / (1 - 0.81)) / ((v2 / (1 - 0.998001)).squareRoot() + 1e-8)
        #expect(abs(Double(out2[0][0]) - expected) < 1e-6)
    }

    @Test func sgdSubtractsTheScaledGradient() throws {
        let spec = TensorSpec(Shape(2))
        let out = try run(.sgd(learningRate: 0.5), [([1, 1], spec), ([2, -4], spec)])
        #expect(out[0] == [0, 3])
    }

    @Test func bernoulliLossMatchesAHandComputation() throws {
        // One example, two pixels x = (1, 0), logits (0, ln 3); latent μ = (1), log σ² = (0).
        // −log p = ln 2 + ln 4; KL = −½(1 + 0 − 1 − 1) = ½.
        let out = try run(.vaeLoss(VAEObjective(likelihood: .bernoulli, beta: 2)), [([1, 0], TensorSpec(Shape(1, 2))), ([0, log(3)], TensorSpec(Shape(1, 2))),
                                                            ([1], TensorSpec(Shape(1, 1))), ([0], TensorSpec(Shape(1, 1)))])
        #expect(abs(out[0][0] - Float(log(2.0) + log(4.0))) < 1e-6)
        #expect(abs(out[0][1] - 0.5) < 1e-6)
        #expect(abs(out[1][0] - Float(log(2.0) + log(4.0) + 1)) < 1e-6)
    }

    @Test func gaussianLossMatchesAHandComputation() throws {
        // Two examples; σ = 2; D = 1. Example 0: x = 1, x̂ = 0 → 1/8 + ln 2 + ½ ln 2π.
        // Example 1: x = 0, x̂ = 0 → ln 2 + ½ ln 2π. KL: μ = 0, log σ² = ln 2 → −½(1 + ln 2 − 2).
        let spec = TensorSpec(Shape(2, 1))
        let out = try run(.vaeLoss(VAEObjective(likelihood: .gaussian(sigma: 2))), [([1, 0], spec), ([0, 0], spec), ([0, 0], spec), ([log(2), log(2)], spec)])
        let c = log(2.0) + 0.5 * log(2 * Double.pi)
        let kl = -0.5 * (1 + log(2.0) - 2)
        #expect(abs(Double(out[0][0]) - (0.125 + c)) < 1e-6)
        #expect(abs(Double(out[0][2]) - c) < 1e-6)
        #expect(abs(Double(out[0][1]) - kl) < 1e-6)
        #expect(abs(Double(out[1][0]) - ((0.125 + 2 * c) / 2 + kl)) < 1e-6)
    }

    @Test func calibratedGaussianAndMonteCarloKLMatchHandComputations() throws {
        // Two examples of D = 2: errors (1, 1) and (1, 1) → σ² = 1; reconstruction per example
        // = 2/2 + (2/2)·ln 2π. Monte-Carlo KL at μ = 0, log σ² = 0, z = 2: −½·4 + ½·4 = 0.
        let x = TensorSpec(Shape(2, 2)), l = TensorSpec(Shape(2, 1))
        let out = try run(.vaeLoss(VAEObjective(likelihood: .calibratedGaussian, kl: .monteCarlo)),
                          [([1, 1, 0, 0], x), ([0, 0, 1, 1], x), ([0, 0], l), ([0, 0], l), ([2, 2], l)])
        let reconstruction = 1 + log(2 * Double.pi)
        #expect(abs(Double(out[0][0]) - reconstruction) < 1e-5 && abs(Double(out[0][2]) - reconstruction) < 1e-5)
        #expect(out[0][1] == 0 && out[0][3] == 0)
        // The batch mean of the calibrated reconstruction is D/2 + (D/2) log(2πσ²) whatever the errors.
        let varied = try run(.vaeLoss(VAEObjective(likelihood: .calibratedGaussian, beta: 0)),
                             [([0.1, 0.9, 0.4, 0.3], x), ([0.3, 0.2, 0.0, 0.8], x), ([0, 0], l), ([0, 0], l)])
        let mse = (0.04 + 0.49 + 0.16 + 0.25) / 4.0
        #expect(abs(Double(varied[1][0]) - (1 + log(2 * Double.pi * mse))) < 1e-5)
    }

    @Test func perFeatureVariancesMatchHandComputations() throws {
        // Two examples of D = 2. Feature 0 errors (1, 3) → σ²₀ = 5; feature 1 errors (0, 0) →
        // σ²₁ = 1e-6 (the floor). Example 0: 1/10 + ½ ln(10π) + 0 + ½ ln(2π·1e-6).
        let x = TensorSpec(Shape(2, 2)), l = TensorSpec(Shape(2, 1))
        let data: [Float] = [1, 0.5, 3, 0.5], decoded: [Float] = [0, 0.5, 0, 0.5]
        let calibrated = try run(.vaeLoss(VAEObjective(likelihood: .calibratedGaussianPerFeature, beta: 0)),
                                 [(data, x), (decoded, x), ([0, 0], l), ([0, 0], l)])
        let floor = 0.5 * log(2 * Double.pi * 1e-6)
        #expect(abs(Double(calibrated[0][0]) - (0.1 + 0.5 * log(10 * Double.pi) + floor)) < 1e-4)
        #expect(abs(Double(calibrated[0][2]) - (0.9 + 0.5 * log(10 * Double.pi) + floor)) < 1e-4)
        // Given variances (4, 1): example 1 = 9/8 + ½ ln 8π + 0 + ½ ln 2π; gradient (x̂ − x)/σ²_j / B.
        let given = try run(.vaeLoss(VAEObjective(likelihood: .gaussianPerFeature)),
                            [(data, x), (decoded, x), ([0, 0], l), ([0, 0], l), ([4, 1], TensorSpec(Shape(2)))])
        #expect(abs(Double(given[0][2]) - (9.0 / 8 + 0.5 * log(8 * Double.pi) + 0.5 * log(2 * Double.pi))) < 1e-5)
        let gradient = try run(.vaeLossGradient(VAEObjective(likelihood: .gaussianPerFeature)),
                               [(data, x), (decoded, x), ([0, 0], l), ([0, 0], l), ([4, 1], TensorSpec(Shape(2))), ([1], TensorSpec(.scalar))])
        #expect(gradient[0] == [-0.125, 0, -0.375, 0])
    }

    @Test func bernoulliLossIsStableForExtremeLogits() throws {
        let spec = TensorSpec(Shape(1, 4))
        let out = try run(.vaeLoss(VAEObjective(likelihood: .bernoulli)), [([1, 0, 1, 0], spec), ([100, -100, -100, 100], spec),
                                                            ([0], TensorSpec(Shape(1, 1))), ([0], TensorSpec(Shape(1, 1)))])
        #expect(abs(out[0][0] - 200) < 1e-3)
    }

    @Test func reductionsAndBroadcastsMatchHandComputations() throws {
        let m: [Float] = [1, 2, 3, 4, 5, 6]
        let spec = TensorSpec(Shape(2, 3))
        #expect(try run(.reduce(.sum, .rows), [(m, spec)])[0] == [5, 7, 9])
        #expect(try run(.reduce(.mean, .rows), [(m, spec)])[0] == [2.5, 3.5, 4.5])
        #expect(try run(.reduce(.sum, .all), [(m, spec)])[0] == [21])
        #expect(try run(.reduce(.mean, .all), [(m, spec)])[0] == [3.5])
        #expect(try run(.broadcast(Shape(2, 3), scale: 2), [([1, 2, 3], TensorSpec(Shape(3)))])[0] == [2, 4, 6, 2, 4, 6])
        #expect(try run(.broadcast(Shape(2, 2), scale: 1), [([7], TensorSpec(.scalar))])[0] == [7, 7, 7, 7])
    }

    @Test func logSumExpIsStableAndMatchesFloat64() throws {
        // Values near ±1000 overflow a naive exp; the shifted form must match a float64 reference.
        let x: [Float] = [1000, 999, 998.5, -1000, -1001, -999.25]
        let all = try run(.reduce(.logSumExp, .all), [(x, TensorSpec(Shape(6)))])[0][0]
        #expect(abs(Double(all) - (1000 + log(1 + exp(-1.0) + exp(-1.5)))) < 1e-4)
        let rows = try run(.reduce(.logSumExp, .rows), [(x, TensorSpec(Shape(3, 2)))])[0]
        // Columns: (1000, 998.5, −1001) and (999, −1000, −999.25).
        #expect(abs(Double(rows[0]) - (1000 + log(1 + exp(-1.5) + exp(-2001.0)))) < 1e-4)
        #expect(abs(Double(rows[1]) - (999 + log(1 + exp(-1999.0) + exp(-1998.25)))) < 1e-4)
        let empty = try run(.reduce(.logSumExp, .all), [([-Float.infinity, -.infinity], TensorSpec(Shape(2)))])[0][0]
        #expect(empty == -.infinity)
    }

    @Test func randomNormalIsKeyedBySeedAndStep() throws {
        let spec = Shape(3, 5)
        let a = try run(.randomNormal(spec, seed: 1), [], context: RunContext(step: 2))[0]
        let b = try run(.randomNormal(spec, seed: 1), [], context: RunContext(step: 2))[0]
        let c = try run(.randomNormal(spec, seed: 1), [], context: RunContext(step: 3))[0]
        #expect(a == b)
        #expect(a != c)
        let n = Philox.normals(seed: 1, step: 2, sample: 0, block: 1)
        #expect(Array(a[4..<8]) == [n.0, n.1, n.2, n.3])
    }

    @Test func reparameterizeUsesTheSameNoiseAsRandomNormal() throws {
        let spec = TensorSpec(Shape(2, 3))
        let mu: [Float] = [1, 2, 3, 4, 5, 6], lv: [Float] = [0, log(4), 0, log(4), 0, log(4)]
        let z = try run(.reparameterize(seed: 8, sample: 0), [(mu, spec), (lv, spec)], context: RunContext(step: 5))[0]
        let eps = try run(.randomNormal(spec.shape, seed: 8), [], context: RunContext(step: 5))[0]
        for i in 0..<6 {
            let sigma: Float = i % 2 == 0 ? 1 : 2
            #expect(abs(z[i] - (mu[i] + sigma * eps[i])) < 1e-5)
        }
    }

    /// A process holding rows 2..<4 of a batch of 5 (two draws per row: 4 local rows) draws
    /// exactly the noise those rows get when the whole batch is in one process.
    @Test func shardedReparameterizeDrawsTheWholeBatchsNoise() throws {
        let d = 3, global = 5, local = 2, first = 2
        let whole = TensorSpec(Shape(2 * global, d)), part = TensorSpec(Shape(2 * local, d))
        let zeros = [Float](repeating: 0, count: whole.count)
        let full = try run(.reparameterize(seed: 8, sample: 1), [(zeros, whole), (zeros, whole)], context: RunContext(step: 9))[0]
        let shard = BatchShard(first: first, rows: local, globalRows: global)
        let zerosPart = [Float](repeating: 0, count: part.count)
        let mine = try run(.reparameterize(seed: 8, sample: 1), [(zerosPart, part), (zerosPart, part)], context: RunContext(step: 9, shard: shard))[0]
        for row in 0..<2 * local {
            let g = (row / local) * global + first + row % local
            #expect(Array(mine[row * d..<(row + 1) * d]) == Array(full[g * d..<(g + 1) * d]), "row \(row) is row \(g) of the whole batch")
        }
        let grad = try run(.reparameterizeGradient(seed: 8, sample: 1), [(zerosPart, part), ([Float](repeating: 2, count: part.count), part)],
                           context: RunContext(step: 9, shard: shard))[0]
        #expect(grad.enumerated().allSatisfy { $0.element == mine[$0.offset] }, "with σ = 1 and dz = 2, d log σ² = ε")
    }
}
