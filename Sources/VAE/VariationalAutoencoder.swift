import Engine

/// A VAE built into one graph from an architecture: encoder x → (μ, log σ²), decoder z → output
/// (logits for Bernoulli, x̂ for Gaussians), and the −ELBO. It only builds graph nodes, so it
/// runs on whichever backend executes the graph. Data tensors are rows [B, D].
public struct VariationalAutoencoder {
    public let architecture: any VAEArchitecture
    public let networks: VAENetworks
    /// The decoder's given variances [D] as a graph constant (`.gaussianPerFeature` only).
    public let decoderVariances: Graph.Tensor?

    /// Adds the architecture's parameters to `graph`.
    public init(_ architecture: any VAEArchitecture, in g: Graph) throws {
        self.architecture = architecture
        networks = try architecture.makeNetworks(in: g)
        if architecture.decoderLikelihood == .gaussianPerFeature {
            guard let variances = architecture.decoderVariances, variances.count == architecture.exampleSize else {
                throw ConfigurationError.invalid("decoder variances", "\(architecture.decoderVariances?.count ?? 0) values",
                                                 "\(architecture.exampleSize), one per value of an example, for the per-feature Gaussian")
            }
            decoderVariances = try g.constant(variances, Shape(variances.count))
        } else {
            decoderVariances = nil
        }
    }

    /// The loss of one z for decoder output `decoded` (μ, log σ², z as the KL needs).
    public func loss(_ x: Graph.Tensor, decoded: Graph.Tensor, mean: Graph.Tensor, logVariance: Graph.Tensor, z: Graph.Tensor? = nil,
                     objective: VAEObjective, in g: Graph) throws -> (terms: Graph.Tensor, loss: Graph.Tensor) {
        try g.vaeLoss(data: x, decoded: decoded, mean: mean, logVariance: logVariance, z: z, variances: decoderVariances, objective: objective)
    }

    public var encoderParameters: [Graph.Tensor] { networks.encoderParameters }
    public var decoderParameters: [Graph.Tensor] { networks.decoderParameters }
    public var parameters: [Graph.Tensor] { encoderParameters + decoderParameters }

    /// q(z|x) = N(μ, diag σ²) for rows x [B, D]: returns μ and log σ², each [B, latent].
    public func encode(_ x: Graph.Tensor, in g: Graph) throws -> (mean: Graph.Tensor, logVariance: Graph.Tensor) {
        let shape = architecture.exampleShape
        let input = shape.count > 1 ? try g.reshape(x, Shape([g.shape(x).rows] + shape)) : x
        let h = try g.flatten(try networks.encoder(input, in: g))
        return (try networks.mean(h, in: g), try networks.logVariance(h, in: g))
    }

    /// The decoder's output for z [B, latent] as rows [B, D]: logits (Bernoulli) or the Gaussian mean x̂.
    public func decode(_ z: Graph.Tensor, in g: Graph) throws -> Graph.Tensor {
        try g.flatten(try networks.decoder(z, in: g))
    }

    /// E[x|z] [B, D]: sigmoid of the logits for Bernoulli, x̂ for Gaussians. For pictures.
    public func decodedMean(_ z: Graph.Tensor, in g: Graph) throws -> Graph.Tensor {
        let out = try decode(z, in: g)
        return architecture.decoderLikelihood == .bernoulli ? try g.activation(out, .sigmoid) : out
    }

    /// −ELBO averaged over `samples` draws of z per example: per-example (reconstruction, KL)
    /// [B, 2] and the batch mean of reconstruction + β·KL [1], in nats.
    ///
    /// The draws are rows of one batch: x, μ and log σ² are repeated `samples` times ([L·B]
    /// rows, draw-major), so the decoder runs once, as one set of products per layer, and its
    /// cost and memory grow linearly in L.
    public func negativeELBO(_ x: Graph.Tensor, in g: Graph, beta: Float = 1, kl: KLEstimator = .closedForm,
                             samples: Int = 1, seed: UInt64) throws -> (terms: Graph.Tensor, loss: Graph.Tensor) {
        guard samples > 0 else { throw ConfigurationError.invalid("--samples", "\(samples)", "a positive number") }
        let (mu, lv) = try encode(x, in: g)
        let objective = VAEObjective(likelihood: architecture.decoderLikelihood, beta: beta, kl: kl)
        let (xs, mus, lvs) = try (g.repeatRows(x, samples), g.repeatRows(mu, samples), g.repeatRows(lv, samples))
        let z = try g.reparameterize(mean: mus, logVariance: lvs, seed: seed)
        let out = try loss(xs, decoded: try decode(z, in: g), mean: mus, logVariance: lvs, z: z, objective: objective, in: g)
        guard samples > 1 else { return out }
        // Per example: the mean over its draws, rows b, B + b, 2B + b, …
        let batch = g.shape(x).rows
        let perDraw = try g.reshape(out.terms, Shape(samples, batch * 2))
        let terms = try g.reshape(try g.apply(.reduce(.mean, .rows), [perDraw])[0], Shape(batch, 2))
        return (terms, out.loss)
    }
}

extension Graph {
    /// The rows of t [B, …] repeated `times` times, [times·B, …] (copy-major: row c·B + b is row
    /// b). Its gradient adds the copies' gradients.
    public func repeatRows(_ t: Tensor, _ times: Int) throws -> Tensor {
        guard times > 1 else { return t }
        let s = shape(t)
        let flat = try reshape(t, Shape(s.count))
        let copies = try apply(.broadcast(Shape(times, s.count), scale: 1), [flat])[0]
        return try reshape(copies, Shape([times * s.rows] + Array(s.dimensions.dropFirst())))
    }
}
