import Engine

/// The two networks of a VAE, built into one graph by `VAEArchitecture.makeNetworks(in:)`.
///
/// `encoder` maps x [B] + exampleShape to features h; `mean` and `logVariance` map h to μ and
/// log σ² [B, latent]; `decoder` maps z [B, latent] to [B] + exampleShape (or [B, D]): logits
/// for the Bernoulli likelihood, the mean x̂ for the Gaussians.
public struct VAENetworks {
    public var encoder: any Layer
    public var mean: any Layer
    public var logVariance: any Layer
    public var decoder: any Layer

    public init(encoder: any Layer, mean: any Layer, logVariance: any Layer, decoder: any Layer) {
        (self.encoder, self.mean, self.logVariance, self.decoder) = (encoder, mean, logVariance, decoder)
    }

    /// The encoder's parameters (with μ's and log σ²'s), then the decoder's: the E-step and
    /// M-step groups of the alternating schedule.
    public var encoderParameters: [Graph.Tensor] { encoder.parameters + mean.parameters + logVariance.parameters }
    public var decoderParameters: [Graph.Tensor] { decoder.parameters }
}

/// A VAE architecture: what the trainer, evaluation (ELBO, IWAE), inference and checkpoints
/// take. The built-in MLP and conv models (`ModelConfiguration`) are implementations; so is a
/// model a library user writes.
///
/// Data reach the model as rows of D = exampleShape.product values (pixels in [0, 1] for the
/// Bernoulli likelihood); the library views them as [B] + exampleShape before the encoder and
/// flattens the decoder's output back to [B, D].
public protocol VAEArchitecture: Sendable {
    /// The shape of one example: [D] for flat data, [C, H, W] for images.
    var exampleShape: [Int] { get }
    /// d, the size of z.
    var latentSize: Int { get }
    /// p(x | z): what the decoder's output means and the reconstruction term in nats.
    var decoderLikelihood: Likelihood { get }
    /// σ²_j, one per value of an example (D of them), for the `.gaussianPerFeature` likelihood;
    /// nil (the default) for the others.
    var decoderVariances: [Float]? { get }
    /// A one-line description for messages ("784-400-20 relu VAE").
    var summary: String { get }
    /// What a checkpoint stores as its "model" metadata and what loading compares: two models
    /// with the same identity have the same parameter names and shapes.
    var identity: String { get }
    /// Adds the parameters to `graph` and returns the networks that use them.
    func makeNetworks(in graph: Graph) throws -> VAENetworks
}

extension VAEArchitecture {
    /// D, the values per example.
    public var exampleSize: Int { exampleShape.reduce(1, *) }
    public var identity: String { summary }
    public var decoderVariances: [Float]? { nil }
}

/// A trained model whose Gaussian decoder scores with given variances, one per value of an
/// example (D positive numbers), instead of its own likelihood: how `vae score` scores a
/// calibrated model with the σ² it measured on its training set, so that an example's score
/// does not depend on the other examples of its batch. Everything else is `base`'s.
public struct GivenVarianceArchitecture: VAEArchitecture {
    public let base: any VAEArchitecture
    public let variances: [Float]

    /// Throws when `variances` are not D positive finite numbers.
    public init(_ base: any VAEArchitecture, variances: [Float]) throws(ConfigurationError) {
        guard variances.count == base.exampleSize, variances.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw .invalid("decoder variances", "\(variances.count) values", "\(base.exampleSize) positive numbers, one per value of an example")
        }
        (self.base, self.variances) = (base, variances)
    }

    public var exampleShape: [Int] { base.exampleShape }
    public var latentSize: Int { base.latentSize }
    public var decoderLikelihood: Likelihood { .gaussianPerFeature }
    public var decoderVariances: [Float]? { variances }
    public var summary: String { base.summary }
    public var identity: String { base.identity }
    public func makeNetworks(in graph: Graph) throws -> VAENetworks { try base.makeNetworks(in: graph) }
}

/// How parameters move against their gradients. An optimizer owns its state: it adds the
/// state tensors it needs to the graph (named after their parameter, so checkpoints hold them).
public protocol Optimizer: Sendable {
    /// Adds one in-place update per parameter to `graph`, which a plan then runs each step.
    func updates(_ parameters: [Graph.Tensor], gradients: [Graph.Tensor], in graph: Graph) throws -> [Graph.Update]
}

/// Adam (Kingma & Ba) with bias correction; its moments are `optimizer.m.NAME` and
/// `optimizer.v.NAME`, zero at the start, shaped like the parameter NAME.
public struct Adam: Optimizer {
    public var hyperparameters: AdamHyperparameters

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        hyperparameters = AdamHyperparameters(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    public func updates(_ parameters: [Graph.Tensor], gradients: [Graph.Tensor], in g: Graph) throws -> [Graph.Update] {
        try zip(parameters, gradients).map { p, dp in
            let name = g.name(p)
            let m = try g.state("optimizer.m.\(name)", g.shape(p)), v = try g.state("optimizer.v.\(name)", g.shape(p))
            return try g.update(.adam(hyperparameters), [p, dp, m, v])
        }
    }
}
