import Engine

/// One batch's gradients of the training loss, with everything an independent implementation
/// needs to recompute them: the batch, the noise of its sampled z, and the loss itself.
public struct BatchGradients {
    /// The batch's examples, row-major [rows, exampleSize], as the model sees them (preprocessed).
    public var images: [Float]
    /// ε [rows, latent] of z = μ + exp(½ log σ²) ⊙ ε: `Philox.normals(count:seed:step:)` at the
    /// batch's step (its index among the batches).
    public var noise: [Float]
    /// The batch mean of reconstruction + β·KL, in nats.
    public var loss: Float
    /// ∂loss/∂parameter for each parameter of the model, in `VariationalAutoencoder.parameters`
    /// order: its checkpoint name, shape and values (row-major).
    public var gradients: [(name: String, shape: [Int], values: [Float])]
}

extension InferenceSession {
    /// The gradients of the training loss, as a training step computes them before the
    /// optimizer's update, for batches k = 0..<`batches` of `batch` examples of `data` taken in
    /// order (batch k is examples k·batch ..< (k + 1)·batch): one sampled z per example, drawn
    /// with `seed` at step k, and the batch mean of reconstruction + `beta`·KL (`kl` estimator).
    ///
    /// For checking this engine's gradients against another implementation
    /// (Benchmarks/gradient_audit.py recomputes them in float64 with PyTorch). `body` gets each
    /// batch as soon as it is computed. Throws when `data` has fewer than `batch` × `batches`
    /// examples, or `batch` or `batches` is not positive.
    public func lossGradients(_ data: Dataset, batch: Int, batches: Int, seed: UInt64, beta: Float = 1, kl: KLEstimator = .closedForm,
                              _ body: (_ index: Int, BatchGradients) throws -> Void) throws {
        guard batch > 0 else { throw ConfigurationError.invalid("--batch-size", "\(batch)", "a positive number of examples") }
        guard batches > 0 else { throw ConfigurationError.invalid("--batches", "\(batches)", "a positive number of batches") }
        guard batch * batches <= data.count else {
            throw ConfigurationError.invalid("--batches", "\(batches)",
                                             "at most \(data.count / batch) batches of \(batch): the data holds \(data.count) examples")
        }
        let (g, model, x, setUp) = try datasetGraph(data.prefix(batch * batches), batch: batch)
        let loss = try model.negativeELBO(x, in: g, beta: beta, kl: kl, seed: seed).loss
        let parameters = model.parameters
        let gradients = try g.gradients(of: loss, with: parameters)
        let executor = try makeExecutor(g)
        try setUp(executor)
        let plan = try executor.compile(outputs: gradients + [loss])
        let size = data.exampleSize, latent = architecture.latentSize
        for k in 0..<batches {
            try executor.run(plan, context: RunContext(step: UInt64(k), cursor: k * batch))
            let values = try gradients.map { try executor.value(of: $0, in: plan) }
            try body(k, BatchGradients(
                images: Array(data.images[(k * batch * size)..<((k + 1) * batch * size)]),
                noise: Philox.normals(count: batch * latent, seed: seed, step: UInt64(k)),
                loss: try executor.value(of: loss, in: plan)[0],
                gradients: zip(parameters, values).map { (g.name($0), g.shape($0).dimensions, $1) }))
        }
    }
}
