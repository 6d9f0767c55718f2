import Engine

/// A fully connected layer's parameters: y = act(x·Wᵀ + b), W [out, in].
public struct DenseLayer: Sendable {
    public let weight: Graph.Tensor
    public let bias: Graph.Tensor

    /// Parameters `name.weight` and `name.bias`, initialized like PyTorch's nn.Linear
    /// (U(±1/√in) for both).
    init(_ name: String, _ inputs: Int, _ outputs: Int, in g: Graph) throws {
        let bound = 1 / Float(inputs).squareRoot()
        weight = try g.parameter("\(name).weight", Shape(outputs, inputs), .uniform(bound: bound))
        bias = try g.parameter("\(name).bias", Shape(outputs), .uniform(bound: bound))
    }

    func callAsFunction(_ x: Graph.Tensor, _ act: Activation = .identity, in g: Graph) throws -> Graph.Tensor {
        try g.linear(x, weight: weight, bias: bias, activation: act)
    }
}

/// The VAE: encoder x → h → (μ, log σ²), decoder z → h → output (logits for Bernoulli, x̂ for
/// Gaussians). It only builds graph nodes, so it runs on whichever backend executes the graph.
public struct VariationalAutoencoder: Sendable {
    public let configuration: ModelConfiguration
    let encoder: [DenseLayer]
    let mean: DenseLayer
    let logVariance: DenseLayer
    let decoder: [DenseLayer]
    let output: DenseLayer

    /// Adds the model's parameters to `graph`, named encoder.i.*, mean.*, logvar.*, decoder.i.*, output.*.
    public init(_ configuration: ModelConfiguration, in g: Graph) throws {
        try configuration.validate()
        self.configuration = configuration
        let c = configuration
        let widths = [c.inputSize] + c.hiddenSizes
        encoder = try (0..<c.hiddenSizes.count).map { try DenseLayer("encoder.\($0)", widths[$0], widths[$0 + 1], in: g) }
        let top = widths[widths.count - 1]
        mean = try DenseLayer("mean", top, c.latentSize, in: g)
        logVariance = try DenseLayer("logvar", top, c.latentSize, in: g)
        let back = [c.latentSize] + c.hiddenSizes.reversed()
        decoder = try (0..<c.hiddenSizes.count).map { try DenseLayer("decoder.\($0)", back[$0], back[$0 + 1], in: g) }
        output = try DenseLayer("output", back[back.count - 1], c.inputSize, in: g)
    }

    public var encoderParameters: [Graph.Tensor] { (encoder + [mean, logVariance]).flatMap { [$0.weight, $0.bias] } }
    public var decoderParameters: [Graph.Tensor] { (decoder + [output]).flatMap { [$0.weight, $0.bias] } }
    public var parameters: [Graph.Tensor] { encoderParameters + decoderParameters }

    /// q(z|x) = N(μ, diag σ²): returns μ and log σ², each [B, latent].
    public func encode(_ x: Graph.Tensor, in g: Graph) throws -> (mean: Graph.Tensor, logVariance: Graph.Tensor) {
        var h = x
        for layer in encoder { h = try layer(h, configuration.engineActivation, in: g) }
        return (try mean(h, in: g), try logVariance(h, in: g))
    }

    /// The decoder's output for z: logits (Bernoulli) or the Gaussian mean x̂.
    public func decode(_ z: Graph.Tensor, in g: Graph) throws -> Graph.Tensor {
        var h = z
        for layer in decoder { h = try layer(h, configuration.engineActivation, in: g) }
        return try output(h, in: g)
    }

    /// E[x|z]: sigmoid of the logits for Bernoulli, x̂ for Gaussians. For pictures.
    public func decodedMean(_ z: Graph.Tensor, in g: Graph) throws -> Graph.Tensor {
        let out = try decode(z, in: g)
        return configuration.likelihood == .bernoulli ? try g.activation(out, .sigmoid) : out
    }

    /// −ELBO averaged over `samples` draws of z per example: per-example (reconstruction, KL)
    /// [B, 2] and the batch mean of reconstruction + β·KL [1], in nats.
    public func negativeELBO(_ x: Graph.Tensor, in g: Graph, beta: Float = 1, kl: KLEstimator = .closedForm,
                             samples: Int = 1, seed: UInt64) throws -> (terms: Graph.Tensor, loss: Graph.Tensor) {
        let (mu, lv) = try encode(x, in: g)
        let objective = VAEObjective(likelihood: configuration.engineLikelihood, beta: beta, kl: kl)
        var terms: Graph.Tensor?, loss: Graph.Tensor?
        for sample in 0..<samples {
            let z = try g.reparameterize(mean: mu, logVariance: lv, seed: seed, sample: UInt32(sample))
            let out = try g.vaeLoss(data: x, decoded: try decode(z, in: g), mean: mu, logVariance: lv, z: z, objective: objective)
            terms = try terms.map { try g.add($0, out.terms) } ?? out.terms
            loss = try loss.map { try g.add($0, out.loss) } ?? out.loss
        }
        guard var terms, var loss else { throw ConfigurationError.invalid("--samples", "\(samples)", "a positive number") }
        if samples > 1 {
            terms = try g.scale(terms, by: 1 / Float(samples))
            loss = try g.scale(loss, by: 1 / Float(samples))
        }
        return (terms, loss)
    }
}
