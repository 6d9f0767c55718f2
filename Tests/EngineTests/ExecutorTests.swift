import CPUBackend
import Engine
import Testing

@Suite struct ExecutorTests {
    private func trainedParameters(reuse: Bool, steps: Int = 4, fuse: Bool = true) throws -> ([[Float]], Plan) {
        let model = try TinyVAE()
        let executor = try Executor(graph: model.graph, backend: CPUBackend(), seed: 3)
        try executor.setValue(TinyVAE.data(), for: model.x)
        let plan = try executor.compile(outputs: [model.loss], updates: model.updates, reuseBuffers: reuse, fuseOps: fuse)
        for step in 0..<steps { try executor.run(plan, context: RunContext(step: UInt64(step))) }
        return (try model.parameters.map { try executor.value(of: $0) }, plan)
    }

    @Test func bufferReuseGivesTheSameResultsAsFreshBuffers() throws {
        let (reused, reusedPlan) = try trainedParameters(reuse: true)
        let (fresh, freshPlan) = try trainedParameters(reuse: false)
        #expect(reused == fresh)
        #expect(freshPlan.peakBytes == freshPlan.naiveBytes)
        #expect(reusedPlan.opCount == freshPlan.opCount)
    }

    @Test func fusedOpsGiveTheSameResults() throws {
        let (fused, plan) = try trainedParameters(reuse: true)
        let (separate, separatePlan) = try trainedParameters(reuse: true, fuse: false)
        #expect(fused == separate)
        #expect(plan.opNames.filter { $0.hasPrefix("vaeLossWithGradient(") }.count == 1)
        #expect(!plan.opNames.contains { $0.hasPrefix("vaeLoss(") || $0.hasPrefix("vaeLossGradient(") })
        #expect(separatePlan.opNames.filter { $0.hasPrefix("vaeLoss(") || $0.hasPrefix("vaeLossGradient(") }.count == 2)
        // Each of the five layers' weight and bias steps in one op.
        #expect(plan.opNames.filter { $0 == "adamTransposedProduct(bias)" }.count == 5)
        #expect(!plan.opNames.contains("adam") && !plan.opNames.contains("matmul(TN)") && !plan.opNames.contains("adamSummingRows"))
        // The decoder's hidden gradient (product, derivative) and the encoder's (two products,
        // their sum, derivative): each derivative with the last product before it.
        #expect(plan.opNames.filter { $0 == "productActivationGradient(relu)" }.count == 1)
        #expect(plan.opNames.filter { $0 == "productActivationGradient(relu, accumulate)" }.count == 1)
        #expect(!plan.opNames.contains { $0.hasPrefix("activationGradient") })
        #expect(plan.opNames.filter { $0 == "add" }.count == 2)  // μ's and log σ²'s gradients, from the KL and through z
        #expect(plan.opNames.filter { $0 == "matmul(NN)" }.count == 2)  // dz, and the first term of the encoder's sum
        #expect(separatePlan.opCount == plan.opCount + 1 + 5 + 5 + 5 + 1 + 2)

        // An incoming d(mean) that the graph computes (not ready before the loss) keeps the loss
        // and its gradient apart; a bias gradient that is also an output keeps its sum apart.
        let g = Graph()
        let x = try g.input("x", Shape(4, 5)), decoded = try g.parameter("decoded", Shape(4, 5), .uniform(bound: 1))
        let mu = try g.parameter("mu", Shape(4, 2), .uniform(bound: 1)), lv = try g.parameter("lv", Shape(4, 2), .uniform(bound: 1))
        let loss = try g.vaeLoss(data: x, decoded: decoded, mean: mu, logVariance: lv, likelihood: .bernoulli).loss
        let seed = try g.apply(.reduce(.mean, .all), [x])[0]
        let grads = try g.gradients(of: loss, seed: seed, with: [decoded, mu, lv])
        let names = try Executor(graph: g, backend: CPUBackend()).compile(outputs: [loss] + grads).opNames
        #expect(names.contains { $0.hasPrefix("vaeLossGradient(") } && !names.contains { $0.hasPrefix("vaeLossWithGradient(") })
        let model = try TinyVAE()
        let biasGradient = model.graph.nodes[model.updates[1].node].inputs[1]  // what Adam reads for enc.bias
        let plan2 = try Executor(graph: model.graph, backend: CPUBackend()).compile(outputs: [model.loss, biasGradient], updates: model.updates)
        #expect(plan2.opNames.filter { $0 == "adamTransposedProduct(bias)" }.count == 4 && plan2.opNames.filter { $0 == "adam" }.count == 1)
        #expect(plan2.opNames.filter { $0 == "adamTransposedProduct" }.count == 1 && !plan2.opNames.contains("adamSummingRows"))
        let weightGradient = model.graph.nodes[model.updates[0].node].inputs[1]  // what Adam reads for enc.weight
        let plan3 = try Executor(graph: model.graph, backend: CPUBackend()).compile(outputs: [model.loss, weightGradient], updates: model.updates)
        #expect(plan3.opNames.filter { $0 == "adamTransposedProduct(bias)" }.count == 4 && plan3.opNames.filter { $0 == "adam" }.count == 1)
        #expect(plan3.opNames.filter { $0 == "adamSummingRows" }.count == 1 && !plan3.opNames.contains("adamTransposedProduct"))
    }

    @Test func trainingStepPeakIsBelowTheNaiveTotal() throws {
        let (_, plan) = try trainedParameters(reuse: true, steps: 1)
        #expect(plan.peakBytes < plan.naiveBytes)
        #expect(plan.peakBytes * 3 < plan.naiveBytes * 2, "peak \(plan.peakBytes) of naive \(plan.naiveBytes)")
    }

    @Test func planComputesOnlyWhatItNeeds() throws {
        let model = try TinyVAE()
        let executor = try Executor(graph: model.graph, backend: CPUBackend(), seed: 3)
        let forward = try executor.compile(outputs: [model.loss])
        let training = try executor.compile(outputs: [model.loss], updates: model.updates)
        #expect(forward.opCount == 7)  // five linear layers, reparameterize, loss
        #expect(training.opCount > forward.opCount + model.parameters.count)
    }

    @Test func sameSeedGivesTheSameParametersAndOtherSeedsDiffer() throws {
        let model = try TinyVAE()
        let a = try Executor(graph: model.graph, backend: CPUBackend(), seed: 9)
        let b = try Executor(graph: model.graph, backend: CPUBackend(), seed: 9)
        let c = try Executor(graph: model.graph, backend: CPUBackend(), seed: 10)
        let p = model.parameters[0]
        #expect(try a.value(of: p) == b.value(of: p))
        #expect(try a.value(of: p) != c.value(of: p))
    }

    @Test func readingAnUnfetchedTensorThrows() throws {
        let model = try TinyVAE()
        let executor = try Executor(graph: model.graph, backend: CPUBackend())
        let plan = try executor.compile(outputs: [])
        #expect(throws: GraphError.self) { try executor.value(of: model.loss, in: plan) }
        #expect(throws: BackendError.self) { try executor.setValue([Float](repeating: 0, count: 3), for: model.x) }
    }

    /// A deterministic autoencoder (β = 0) on data from a 3-dimensional subspace of R¹⁶.
    /// σ = 1/√(2π) makes the Gaussian constant vanish, so the loss is π·‖x − x̂‖².
    @Test func smallAutoencoderLossFallsByAnOrderOfMagnitude() throws {
        let g = Graph()
        let (n, d, k) = (64, 16, 3)
        let x = try g.input("x", Shape(n, d))
        let codes = Philox.uniforms(count: n * k, bound: 1, seed: 1, stream: 0)
        let basis = Philox.uniforms(count: k * d, bound: 1, seed: 1, stream: 1)
        var data = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { for c in 0..<k { data[i * d + j] += codes[i * k + c] * basis[c * d + j] } } }
        let w1 = try g.parameter("w1", Shape(8, d), .uniform(bound: 0.25)), b1 = try g.parameter("b1", Shape(8), .zeros)
        let w2 = try g.parameter("w2", Shape(4, 8), .uniform(bound: 0.35)), b2 = try g.parameter("b2", Shape(4), .zeros)
        let w3 = try g.parameter("w3", Shape(d, 4), .uniform(bound: 0.5)), b3 = try g.parameter("b3", Shape(d), .zeros)
        let code = try g.linear(try g.linear(x, weight: w1, bias: b1, activation: .tanh), weight: w2, bias: b2)
        let xhat = try g.linear(code, weight: w3, bias: b3)
        let zeroLogVar = try g.constant([Float](repeating: 0, count: n * 4), Shape(n, 4))
        let loss = try g.vaeLoss(data: x, decoded: xhat, mean: code, logVariance: zeroLogVar,
                                 likelihood: .gaussian(sigma: 1 / (2 * Float.pi).squareRoot()), beta: 0).loss
        let params = [w1, b1, w2, b2, w3, b3]
        let updates = try zip(params, try g.gradients(of: loss, with: params)).map { p, dp in
            try g.update(.adam(AdamHyperparameters(learningRate: 0.01)),
                         [p, dp, try g.state("m" + g.name(p), g.shape(p)), try g.state("v" + g.name(p), g.shape(p))])
        }
        let executor = try Executor(graph: g, backend: CPUBackend(), seed: 2)
        try executor.setValue(data, for: x)
        let step = try executor.compile(outputs: [loss], updates: updates)
        try executor.run(step, context: RunContext(step: 0))
        let first = try executor.value(of: loss, in: step)[0]
        for s in 1..<600 { try executor.run(step, context: RunContext(step: UInt64(s))) }
        let last = try executor.value(of: loss, in: step)[0]
        #expect(last * 10 < first, "loss went from \(first) to \(last)")
    }
}
