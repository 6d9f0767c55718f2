import CPUBackend
import Engine
@testable import OpenCLBackend
import Testing
import VAEBench

/// Every op on every OpenCL device present (PoCL and Mesa's rusticl in CI) against the CPU
/// reference, on shapes that are not multiples of any tile.
@Suite struct OpenCLParityTests {
    static let sizes = [1, 7, 33, 129]

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matmulMatchesCPU(_ ta: Bool, _ tb: Bool) throws {
        for parity in try Parity.everyDevice() {
            var shapes: [(Int, Int, Int)] = []
            for m in Self.sizes { for n in Self.sizes { for k in [1, 7, 129] { shapes.append((m, n, k)) } } }
            shapes += [(128, 400, 784), (128, 784, 400), (128, 20, 400), (784, 400, 128), (6, 16, 9), (5, 15, 3), (7, 31, 17), (6, 8, 5)]
            shapes += [(7, 33, 2049), (33, 7, 3137), (129, 40, 2100)]  // K split into pieces (KSplit), both tile orders
            shapes += [(128, 400, 20), (33, 129, 63), (6, 16, 31), (385, 33, 129)]  // NT through a transposed B: short K, many rows
            shapes += [(33, 20, 7), (129, 17, 65), (17, 31, 2049), (40, 24, 129), (16, 16, 16), (33, 12, 7), (129, 9, 65)]  // narrow NN/TN tiles (N < 2 vectors)
            for (m, n, k) in shapes {
                let a = TensorSpec(ta ? Shape(k, m) : Shape(m, k)), b = TensorSpec(tb ? Shape(n, k) : Shape(k, n))
                try parity.check(.matmul(transposeA: ta, transposeB: tb),
                                 [(a, Parity.values(a.count, stream: 1)), (b, Parity.values(b.count, stream: 2))])
            }
        }
    }

    @Test(arguments: Activation.all)
    func linearMatchesCPU(_ act: Activation) throws {
        for parity in try Parity.everyDevice() {
            for (m, n, k) in [(1, 1, 1), (7, 33, 129), (129, 7, 33), (33, 129, 7), (2, 3, 784), (128, 400, 784), (128, 20, 400),
                              (7, 33, 3137), (5, 2, 2049), (128, 400, 20), (33, 129, 63), (385, 33, 129)] {
                let x = TensorSpec(Shape(m, k)), w = TensorSpec(Shape(n, k)), b = TensorSpec(Shape(n))
                try parity.check(.linear(activation: act), [(x, Parity.values(x.count, stream: 1)), (w, Parity.values(w.count, stream: 2, bound: 0.2)),
                                                            (b, Parity.values(n, stream: 3))])
            }
        }
    }

    /// A layer's input gradient through the previous activation (`productActivationGradient`),
    /// alone and with a second gradient added: register tiles wide and narrow, edges shifted
    /// back, the MLP's shapes, and the fallbacks (smaller than a tile, K in pieces).
    @Test(arguments: Activation.all)
    func productActivationGradientMatchesCPU(_ act: Activation) throws {
        for parity in try Parity.everyDevice() {
            for (m, n, k) in [(1, 1, 1), (7, 33, 129), (129, 7, 33), (33, 129, 7), (128, 400, 784), (128, 400, 20), (128, 20, 400),
                              (33, 20, 7), (129, 17, 65), (7, 33, 2049)] {
                let a = TensorSpec(Shape(m, k)), b = TensorSpec(Shape(k, n)), out = TensorSpec(Shape(m, n))
                let y = try parity.outputs(on: parity.cpu, .activation(act), [(out, Parity.values(out.count, stream: 3, bound: 4))], context: RunContext())[0]
                let inputs = [(a, Parity.values(a.count, stream: 1)), (b, Parity.values(b.count, stream: 2, bound: 0.2)), (out, y)]
                try parity.check(.productActivationGradient(act, accumulate: false), inputs)
                try parity.check(.productActivationGradient(act, accumulate: true), inputs + [(out, Parity.values(out.count, stream: 4))])
            }
        }
    }

    /// The CPU structure in both vector widths on every device, whatever width the device
    /// prefers (the other tests build each device's own): every op of `vae check-kernels`.
    /// Mesa's rusticl, which prefers scalars, returned wrong NT products in the 16-float form.
    @Test(arguments: [8, 16])
    func bothVectorWidthsMatchCPUOnEveryDevice(_ width: Int) throws {
        for device in try openCLDevices() {
            let backend = try OpenCLBackend(device: device, structure: .cpu, registerWidth: width)
            let bad = try KernelCheck(backend).run().filter { !$0.passes }
            #expect(bad.isEmpty, "\(device.name), vectors of \(width): \(bad.map { "\($0.op) \($0.shapes): \($0.difference)" })")
        }
    }

    @Test(arguments: Activation.all)
    func activationsAndTheirGradientsMatchCPU(_ act: Activation) throws {
        for parity in try Parity.everyDevice() {
            for n in Self.sizes + [784 * 33] {
                let spec = TensorSpec(Shape(n))
                try parity.check(.activation(act), [(spec, Parity.values(n, stream: 1, bound: 6))])
                let y = try parity.outputs(on: parity.cpu, .activation(act), [(spec, Parity.values(n, stream: 1, bound: 6))], context: RunContext())[0]
                try parity.check(.activationGradient(act), [(spec, y), (spec, Parity.values(n, stream: 2))])
            }
        }
    }

    @Test func addBroadcastAndReductionsMatchCPU() throws {
        for parity in try Parity.everyDevice() {
            for m in Self.sizes {
                for n in Self.sizes {
                    let spec = TensorSpec(Shape(m, n))
                    try parity.check(.add, [(spec, Parity.values(m * n, stream: 1)), (spec, Parity.values(m * n, stream: 2))])
                    for r in [Reduction.sum, .mean, .logSumExp] {
                        try parity.check(.reduce(r, .rows), [(spec, Parity.values(m * n, stream: 3))])
                        try parity.check(.reduce(r, .all), [(spec, Parity.values(m * n, stream: 4))])
                    }
                    try parity.check(.broadcast(Shape(m, n), scale: -0.5), [(TensorSpec(Shape(n)), Parity.values(n, stream: 5))])
                    try parity.check(.broadcast(Shape(m, n), scale: 3), [(TensorSpec(.scalar), [0.25])])
                }
            }
            let big = TensorSpec(Shape(129, 784))
            try parity.check(.reduce(.sum, .all), [(big, Parity.values(big.count, stream: 6))])
            let logWeights = Parity.values(big.count, stream: 7, bound: 300).map { $0 - 500 }
            try parity.check(.reduce(.logSumExp, .all), [(big, logWeights)])
            try parity.check(.reduce(.logSumExp, .rows), [(big, logWeights)])
            try parity.check(.broadcast(Shape(5, 7), scale: 2), [(TensorSpec(Shape(1, 7)), Parity.values(7, stream: 8))])
            // Several blocks of rows per work-item on CPU devices (about 4096 values each).
            try parity.check(.broadcast(Shape(5001, 3), scale: 2), [(TensorSpec(Shape(3)), Parity.values(3, stream: 9))])
            try parity.check(.broadcast(Shape(9001), scale: -1), [(TensorSpec(.scalar), [0.5])])
            try parity.check(.broadcast(Shape(1000, 784), scale: 1), [(TensorSpec(Shape(784)), Parity.values(784, stream: 10))])
        }
    }

    @Test func samplingMatchesCPU() throws {
        for parity in try Parity.everyDevice() {
            for n in Self.sizes + [128] {
                for d in [1, 7, 20, 33] {
                    let spec = TensorSpec(Shape(n, d))
                    let mu = Parity.values(spec.count, stream: 1), lv = Parity.values(spec.count, stream: 2, bound: 3)
                    // Unsharded, then as rows 3 ..< 3 + n/2 of a batch of 2n+1 (two draws per row when n is even).
                    let shards: [BatchShard?] = [nil, BatchShard(first: 3, rows: max(1, n / 2), globalRows: 2 * n + 1)]
                    for step in [UInt64(0), 12, 1 << 33] {
                      for shard in shards {
                        let context = RunContext(step: step, shard: shard)
                        if shard == nil { try parity.check(.randomNormal(spec.shape, seed: 77), [], context: context) }
                        try parity.check(.reparameterize(seed: 5, sample: 3), [(spec, mu), (spec, lv)], context: context)
                        try parity.check(.reparameterizeGradient(seed: 5, sample: 3), [(spec, lv), (spec, Parity.values(spec.count, stream: 3))],
                                         context: context)
                      }
                    }
                }
            }
        }
    }

    @Test func philoxBitsAreIdenticalToTheHost() throws {
        for gpu in try Parity.everyDevice().map(\.gpu) {
        for (seed, step, sample) in [(UInt64(0), UInt64(0), UInt32(0)), (0xDEAD_BEEF_1234_5678, 1 << 40 | 17, 9)] {
            let bits = try gpu.philoxBits(blocks: 1000, seed: seed, step: step, sample: sample)
            for block in 0..<1000 {
                let r = Philox.block(counter: (UInt32(block), sample, UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32)),
                                     key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
                #expect(Array(bits[block * 4..<block * 4 + 4]) == [r.0, r.1, r.2, r.3], "block \(block)")
            }
        }
        let zero = try gpu.philoxBits(blocks: 1, seed: 0, step: 0, sample: 0)
        #expect(zero == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        }
    }

    @Test(arguments: [Likelihood.bernoulli, .gaussian(sigma: 0.3), .calibratedGaussian, .calibratedGaussianPerFeature, .gaussianPerFeature],
          KLEstimator.allCases)
    func vaeLossAndGradientMatchCPU(_ likelihood: Likelihood, _ kl: KLEstimator) throws {
        for parity in try Parity.everyDevice() {
            let objective = VAEObjective(likelihood: likelihood, beta: 0.7, kl: kl)
            for (b, d, l) in [(1, 1, 1), (7, 33, 3), (33, 7, 20), (128, 784, 20), (129, 129, 7)] {
                let x = TensorSpec(Shape(b, d)), z = TensorSpec(Shape(b, l))
                var inputs = [(x, Parity.values(x.count, stream: 1, unit: true)), (x, Parity.values(x.count, stream: 2, bound: 4)),
                              (z, Parity.values(z.count, stream: 3)), (z, Parity.values(z.count, stream: 4, bound: 2))]
                if kl == .monteCarlo { inputs.append((z, Parity.values(z.count, stream: 5, bound: 2))) }
                if likelihood == .gaussianPerFeature { inputs.append((TensorSpec(Shape(d)), Parity.values(d, stream: 6).map { 0.05 + $0 * $0 })) }
                try parity.check(.vaeLoss(objective), inputs)
                try parity.check(.vaeLossGradient(objective), inputs + [(TensorSpec(.scalar), [1.5])])
                try parity.check(.vaeLossWithGradient(objective), inputs + [(TensorSpec(.scalar), [1.5])])
            }
        }
    }

    @Test func gatherMatchesCPU() throws {
        for parity in try Parity.everyDevice() {
            for (rows, width, tableRows) in [(1, 1, 1), (7, 33, 129), (129, 7, 200), (128, 784, 300)] {
                let table = TensorSpec(Shape(tableRows, width))
                let indexCount = rows + 5
                let indices = (0..<indexCount).map { Float(($0 * 7919) % tableRows) }
                try parity.check(.gather(rows: rows), [(table, Parity.values(table.count, stream: 1)), (TensorSpec(Shape(indexCount), .int32), indices)],
                                 context: RunContext(cursor: 3))
            }
        }
    }

    @Test func gatherPaletteMatchesCPU() throws {
        for parity in try Parity.everyDevice() {
            for (rows, width, tableRows) in [(1, 1, 1), (7, 33, 129), (129, 7, 200), (128, 784, 300)] {
                let table = TensorSpec(Shape(tableRows, width), .uint8), indexCount = rows + 5
                try parity.check(.gatherPalette(rows: rows), [(table, (0..<table.count).map { Float(($0 * 7919) % 256) }),
                                                              (TensorSpec(Shape(indexCount), .int32), (0..<indexCount).map { Float(($0 * 7919) % tableRows) }),
                                                              (TensorSpec(Shape(256)), Parity.values(256, stream: 2))],
                                 context: RunContext(cursor: 3), tolerance: 0)
            }
        }
    }

    @Test func optimizersMatchCPU() throws {
        for parity in try Parity.everyDevice() {
            for n in Self.sizes + [400 * 784] {
                let spec = TensorSpec(Shape(n))
                let v = Parity.values(n, stream: 4).map { $0 * $0 }
                try parity.check(.adam(AdamHyperparameters(learningRate: 1e-3)),
                                 [(spec, Parity.values(n, stream: 1)), (spec, Parity.values(n, stream: 2)), (spec, Parity.values(n, stream: 3)), (spec, v)],
                                 context: RunContext(step: 41))
                try parity.check(.sgd(learningRate: 0.1), [(spec, Parity.values(n, stream: 1)), (spec, Parity.values(n, stream: 2))])
            }
            for (rows, n) in [(1, 1), (7, 33), (128, 400), (129, 17)] {  // a bias update summing its gradient's rows
                let spec = TensorSpec(Shape(n)), grid = TensorSpec(Shape(rows, n))
                try parity.check(.adamSummingRows(AdamHyperparameters(learningRate: 1e-3)),
                                 [(spec, Parity.values(n, stream: 1)), (grid, Parity.values(rows * n, stream: 2)), (spec, Parity.values(n, stream: 3)),
                                  (spec, Parity.values(n, stream: 4).map { $0 * $0 })], context: RunContext(step: 41))
            }
            // A weight update forming its gradient Aᵀ·B: the fused tiles (wide, narrow, edges
            // shifted back) and the fallbacks (too small for a tile, K in pieces); alone and with
            // the layer's bias step (the column sums of A).
            for (m, n, k) in [(1, 1, 1), (7, 33, 129), (129, 7, 33), (33, 129, 7), (17, 18, 9), (400, 784, 128), (400, 20, 128), (20, 400, 128),
                              (9, 40, 2049)] {
                let p = TensorSpec(Shape(m, n)), a = TensorSpec(Shape(k, m)), b = TensorSpec(Shape(k, n)), bias = TensorSpec(Shape(m))
                let weight = [(p, Parity.values(p.count, stream: 1)), (a, Parity.values(a.count, stream: 2)), (b, Parity.values(b.count, stream: 3)),
                              (p, Parity.values(p.count, stream: 4)), (p, Parity.values(p.count, stream: 5).map { $0 * $0 })]
                let biasState = [(bias, Parity.values(m, stream: 6)), (bias, Parity.values(m, stream: 7)), (bias, Parity.values(m, stream: 8).map { $0 * $0 })]
                let h = AdamHyperparameters(learningRate: 1e-3)
                try parity.check(.adamTransposedProduct(h, bias: false), weight, context: RunContext(step: 41))
                try parity.check(.adamTransposedProduct(h, bias: true), weight + biasState, context: RunContext(step: 41))
            }
        }
    }
}

/// The GPU kernel configuration (the local-memory `gemm_tiled` for every product, builtin
/// exp/log) built and run on every device present (PoCL, and rusticl with its GPU-like limits:
/// 32 KiB of local memory, work-groups of at most 1024), so its code path and barriers are
/// checked where no GPU is at hand; every tile size a device can be given, on shapes around
/// the tile edges.
@Suite struct GPUConfigurationParityTests {
    @Test func gpuConfigurationMatchesCPU() throws {
        for parity in try Parity.everyDevice(tiles: .gpu) {
        for (m, n, k) in [(1, 1, 1), (4, 16, 3), (7, 33, 129), (129, 7, 33), (33, 129, 7), (128, 400, 784), (64, 64, 16), (65, 130, 17),
                          (1, 200, 1), (63, 1, 47)] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = TensorSpec(ta ? Shape(k, m) : Shape(m, k)), b = TensorSpec(tb ? Shape(n, k) : Shape(k, n))
                try parity.check(.matmul(transposeA: ta, transposeB: tb), [(a, Parity.values(a.count, stream: 1)), (b, Parity.values(b.count, stream: 2))])
            }
            let x = TensorSpec(Shape(m, k)), w = TensorSpec(Shape(n, k)), bias = TensorSpec(Shape(n))
            try parity.check(.linear(activation: .softplus), [(x, Parity.values(x.count, stream: 1)), (w, Parity.values(w.count, stream: 2)),
                                                              (bias, Parity.values(n, stream: 3))])
        }
        for likelihood in [Likelihood.bernoulli, .gaussian(sigma: 0.3), .calibratedGaussian, .calibratedGaussianPerFeature, .gaussianPerFeature] {
            let x = TensorSpec(Shape(33, 129)), z = TensorSpec(Shape(33, 7))
            var inputs = [(x, Parity.values(x.count, stream: 1, unit: true)), (x, Parity.values(x.count, stream: 2, bound: 4)),
                          (z, Parity.values(z.count, stream: 3)), (z, Parity.values(z.count, stream: 4))]
            if likelihood == .gaussianPerFeature { inputs.append((TensorSpec(Shape(129)), Parity.values(129, stream: 6).map { 0.05 + $0 * $0 })) }
            try parity.check(.vaeLoss(VAEObjective(likelihood: likelihood)), inputs)
            try parity.check(.vaeLossGradient(VAEObjective(likelihood: likelihood)), inputs + [(TensorSpec(.scalar), [1])])
            try parity.check(.vaeLossWithGradient(VAEObjective(likelihood: likelihood)), inputs + [(TensorSpec(.scalar), [1])])
        }
        for act in Activation.all {
            try parity.check(.activation(act), [(TensorSpec(Shape(7, 33)), Parity.values(231, stream: 5, bound: 6))])
        }
        }
    }
}

@Suite struct GEMMTileTests {
    /// A long K is walked in pieces of about 1024 of equal length, each a multiple of 16, and
    /// none empty; a short one whole.
    @Test func longProductsSplitK() {
        for k in [1, 7, 2047, 2048, 3136, 6272, 25_088, 100_003] {
            let s = OpenCLBackend.KSplit(k: k)
            #expect(s.chunk * s.pieces >= k && s.chunk * (s.pieces - 1) < k, "K = \(k)")
            if k < 2048 { #expect(s.pieces == 1 && s.chunk == k) } else { #expect(s.chunk % 16 == 0 && s.pieces >= 2 && abs(s.chunk - 1024) < 512, "K = \(k)") }
        }
        #expect(OpenCLBackend.KSplit(k: 3136).pieces == 3)
    }

    @Test func tilesShrinkToTheDeviceLimits() {
        #expect(GEMMTiles.fitting(maxWorkGroup: 1024, localBytes: 32 << 10) == GEMMTiles(tm: 64, tn: 64, tk: 16, wm: 4, wn: 4))
        #expect(GEMMTiles.fitting(maxWorkGroup: 128, localBytes: 32 << 10) == GEMMTiles(tm: 32, tn: 32, tk: 16, wm: 4, wn: 4))
        #expect(GEMMTiles.fitting(maxWorkGroup: 1024, localBytes: 6 << 10) == GEMMTiles(tm: 32, tn: 32, tk: 16, wm: 4, wn: 4))
        #expect(GEMMTiles.fitting(maxWorkGroup: 32, localBytes: 2 << 10) == GEMMTiles(tm: 16, tn: 16, tk: 8, wm: 4, wn: 4))
        #expect(GEMMTiles(tm: 64, tn: 64, tk: 16, wm: 4, wn: 4).localBytes == 8320)
        // The loads take the device's preferred float vector width, as 1, 2 or 4.
        #expect(GEMMTiles.fitting(maxWorkGroup: 1024, localBytes: 32 << 10, vectorWidth: 8).vw == 4)
        #expect(GEMMTiles.fitting(maxWorkGroup: 1024, localBytes: 32 << 10, vectorWidth: 2).vw == 2)
        #expect(GEMMTiles.fitting(maxWorkGroup: 1024, localBytes: 32 << 10, vectorWidth: 1).vw == 1)
        #expect(GEMMTiles.fitting(maxWorkGroup: 1024, localBytes: 32 << 10, vectorWidth: 3).vw == 2)
        #expect(GEMMTiles(tm: 64, tn: 64, tk: 16, wm: 4, wn: 4, vw: 4).buildOptions.contains("-DGEMM_VW=4"))
    }

    /// Every tile size and load width against the CPU, on shapes whose rows and columns are not
    /// multiples of the tile or of the vector (the loads that cross an edge go one by one).
    @Test(arguments: [GEMMTiles(tm: 32, tn: 32, tk: 16, wm: 4, wn: 4), GEMMTiles(tm: 16, tn: 16, tk: 8, wm: 4, wn: 4),
                      GEMMTiles(tm: 64, tn: 64, tk: 16, wm: 4, wn: 4, vw: 4), GEMMTiles(tm: 16, tn: 16, tk: 8, wm: 4, wn: 4, vw: 4),
                      GEMMTiles(tm: 32, tn: 32, tk: 16, wm: 4, wn: 4, vw: 2)])
    func smallerTilesMatchCPU(_ t: GEMMTiles) throws {
        let g = TileConfiguration.gpu
        for parity in try Parity.everyDevice(tiles: TileConfiguration(nnRows: g.nnRows, local2D: g.local2D, local1D: g.local1D,
                                                                       polynomialMath: false, gemmTiles: t)) {
        for (m, n, k) in [(1, 1, 1), (17, 33, 9), (33, 17, 40), (128, 20, 400), (7, 129, 33), (130, 67, 18)] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = TensorSpec(ta ? Shape(k, m) : Shape(m, k)), b = TensorSpec(tb ? Shape(n, k) : Shape(k, n))
                try parity.check(.matmul(transposeA: ta, transposeB: tb), [(a, Parity.values(a.count, stream: 1)), (b, Parity.values(b.count, stream: 2))])
            }
        }
        }
    }
}

/// The executor's merged ops (a layer's weight and bias steps with the gradients they form; a
/// layer's input gradient through the activation before it) train as the separate ops do on
/// every device: a four-layer net, five Adam steps with the plan fused and unfused: w1's
/// gradient [20, 65] in wide tiles, w2's [13, 20] in narrow ones where vectors are 16 floats
/// (PoCL here), wide ones where they are 8; h's gradient [33, 20] the sum of two products
/// through the ReLU (narrow tiles), h3's [33, 40] one product through the ReLU (wide ones).
@Suite struct FusedUpdateTests {
    @Test func fusedUpdatesTrainAsTheSeparateOpsOnEveryDevice() throws {
        for device in try openCLDevices() {
            var trained: [[[Float]]] = []
            for fuse in [true, false] {
                let g = Graph()
                let x = try g.input("x", Shape(33, 65))
                let w1 = try g.parameter("w1", Shape(20, 65), .uniform(bound: 0.2)), b1 = try g.parameter("b1", Shape(20), .uniform(bound: 0.2))
                let w2 = try g.parameter("w2", Shape(13, 20), .uniform(bound: 0.3)), b2 = try g.parameter("b2", Shape(13), .uniform(bound: 0.3))
                let w3 = try g.parameter("w3", Shape(40, 20), .uniform(bound: 0.3)), b3 = try g.parameter("b3", Shape(40), .uniform(bound: 0.3))
                let w4 = try g.parameter("w4", Shape(20, 40), .uniform(bound: 0.3)), b4 = try g.parameter("b4", Shape(20), .uniform(bound: 0.3))
                // h feeds two layers (its gradient is a sum through the ReLU); h3 one (ReLU).
                let h = try g.linear(x, weight: w1, bias: b1, activation: .relu)
                let y = try g.linear(h, weight: w2, bias: b2, activation: .tanh)
                let h3 = try g.linear(h, weight: w3, bias: b3, activation: .relu)
                let y4 = try g.linear(h3, weight: w4, bias: b4, activation: .sigmoid)
                let loss = try g.add(try g.apply(.reduce(.mean, .all), [y])[0], try g.apply(.reduce(.mean, .all), [y4])[0])
                let parameters = [w1, b1, w2, b2, w3, b3, w4, b4]
                let updates = try zip(parameters, try g.gradients(of: loss, with: parameters)).map { p, dp in
                    let m = try g.state("m." + g.name(p), g.shape(p)), v = try g.state("v." + g.name(p), g.shape(p))
                    return try g.update(.adam(AdamHyperparameters(learningRate: 1e-2)), [p, dp, m, v])
                }
                let executor = try Executor(graph: g, backend: try OpenCLBackend(device: device, structure: nil), seed: 5)
                try executor.setValue(Parity.values(33 * 65, stream: 9), for: x)
                let plan = try executor.compile(outputs: [loss], updates: updates, fuseOps: fuse)
                #expect(plan.opNames.filter { $0 == "adamTransposedProduct(bias)" }.count == (fuse ? 4 : 0), "\(device.name): \(plan.opNames)")
                #expect(plan.opNames.filter { $0.hasPrefix("productActivationGradient(") }.count == (fuse ? 2 : 0), "\(device.name): \(plan.opNames)")
                for step in 0..<5 { try executor.run(plan, context: RunContext(step: UInt64(step))) }
                trained.append(try parameters.map { try executor.value(of: $0) })
            }
            let worst = KernelCheck.relativeDifference(trained[1], trained[0])
            #expect(worst <= 1e-6, "\(device.name): fused against separate \(worst)")
        }
    }
}
