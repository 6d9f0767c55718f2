import Engine

/// The decoder's likelihood, as chosen on the command line and stored in checkpoints.
public enum LikelihoodKind: String, Codable, CaseIterable, Sendable {
    /// Binary cross-entropy on logits: for pixel intensities in [0, 1].
    case bernoulli
    /// Gaussian with a fixed σ (`ModelConfiguration.sigma`).
    case gaussian
    /// Gaussian whose σ² is the batch's mean squared error (σ-VAE).
    case calibrated
    /// Gaussian with one σ² per feature, each the batch's mean squared error of that feature:
    /// for tables, whose features differ in how well the others predict them.
    case calibratedPerFeature = "calibrated-per-feature"
}

/// How training alternates between the encoder and the decoder.
public enum Schedule: String, Codable, CaseIterable, Sendable {
    /// One Adam step on all parameters per batch.
    case joint
    /// EM-style: an E-step on the encoder (decoder fixed), then an M-step on the decoder.
    case alternating
}

/// The built-in network families.
public enum ArchitectureKind: String, Codable, CaseIterable, Sendable {
    /// Fully connected encoder and mirrored decoder (`hiddenSizes`).
    case mlp
    /// Strided convolutions, a dense layer, and mirrored transposed convolutions (see `BuiltInModels.swift`).
    case conv
}

/// A built-in architecture: what a checkpoint must match to be loaded into a model.
public struct ModelConfiguration: Codable, Equatable, Sendable {
    public var architecture = ArchitectureKind.mlp
    /// D, the values per example (C·H·W for images).
    public var inputSize = 784
    /// Hidden layer widths of the MLP.
    public var hiddenSizes = [400]
    public var latentSize = 20
    /// C, H, W of one example for the conv architecture (from the data).
    public var imageShape = [1, 28, 28]
    /// Output channels of the encoder's convolutions (the decoder mirrors them).
    public var convChannels = [32, 64]
    /// Kernel size of every convolution; stride 2, padding (kernel − 1)/2.
    public var kernelSize = 4
    /// Width of the dense layer between the convolutions and the latent layers.
    public var denseWidth = 256
    /// An `Activation` name: relu, leaky-relu, sigmoid, tanh, softplus, identity.
    public var activation = "relu"
    public var likelihood = LikelihoodKind.bernoulli
    /// σ of the fixed Gaussian likelihood.
    public var sigma: Float = 0.1

    public init() {}

    /// Reads checkpoints written before the conv architecture existed: fields they lack take
    /// their defaults (an MLP).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ModelConfiguration()
        architecture = try c.decodeIfPresent(ArchitectureKind.self, forKey: .architecture) ?? d.architecture
        inputSize = try c.decode(Int.self, forKey: .inputSize)
        hiddenSizes = try c.decode([Int].self, forKey: .hiddenSizes)
        latentSize = try c.decode(Int.self, forKey: .latentSize)
        imageShape = try c.decodeIfPresent([Int].self, forKey: .imageShape) ?? d.imageShape
        convChannels = try c.decodeIfPresent([Int].self, forKey: .convChannels) ?? d.convChannels
        kernelSize = try c.decodeIfPresent(Int.self, forKey: .kernelSize) ?? d.kernelSize
        denseWidth = try c.decodeIfPresent(Int.self, forKey: .denseWidth) ?? d.denseWidth
        activation = try c.decode(String.self, forKey: .activation)
        likelihood = try c.decode(LikelihoodKind.self, forKey: .likelihood)
        sigma = try c.decode(Float.self, forKey: .sigma)
    }

    /// The Engine's likelihood.
    public var engineLikelihood: Likelihood {
        switch likelihood {
        case .bernoulli: .bernoulli
        case .gaussian: .gaussian(sigma: sigma)
        case .calibrated: .calibratedGaussian
        case .calibratedPerFeature: .calibratedGaussianPerFeature
        }
    }

    public var engineActivation: Activation { Activation(name: activation) ?? .relu }

    /// Throws a message naming the first value that is not usable.
    public func validate() throws(ConfigurationError) {
        guard inputSize > 0 else { throw .invalid("input size", "\(inputSize)", "a positive number") }
        guard latentSize > 0 else { throw .invalid("--latent", "\(latentSize)", "a positive number of latent dimensions") }
        guard hiddenSizes.allSatisfy({ $0 > 0 }) else {
            throw .invalid("--hidden", hiddenSizes.map(String.init).joined(separator: ","), "positive layer sizes, e.g. 400,200")
        }
        guard Activation(name: activation) != nil else {
            throw .invalid("--activation", activation, "one of \(Activation.all.map(\.description).joined(separator: ", "))")
        }
        guard sigma.isFinite, sigma > 0 else { throw .invalid("--sigma", "\(sigma)", "a finite positive standard deviation") }
        if architecture == .conv { try validateConvolutions() }
    }
}

/// How to train: everything `vae train` takes besides the architecture and the data.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    public var batchSize = 128
    public var epochs = 10
    public var beta: Float = 1
    public var samples = 1
    public var kl = KLEstimator.closedForm
    public var schedule = Schedule.joint
    public var learningRate: Float = 1e-3
    /// E-step and M-step rates of the alternating schedule (default: `learningRate`).
    public var encoderLearningRate: Float?
    public var decoderLearningRate: Float?
    public var seed: UInt64 = 0
    /// Classes left out of training (for anomaly benchmarks).
    public var excludedClasses: [Int] = []

    public init() {}

    public func validate(trainingExamples: Int? = nil) throws(ConfigurationError) {
        guard batchSize > 0 else { throw .invalid("--batch-size", "\(batchSize)", "a positive number") }
        if let n = trainingExamples, batchSize > n {
            throw .invalid("--batch-size", "\(batchSize)", "at most the \(n) training examples")
        }
        guard epochs > 0 else { throw .invalid("--epochs", "\(epochs)", "a positive number") }
        guard samples > 0 else { throw .invalid("--samples", "\(samples)", "a positive number of z samples per example") }
        guard beta.isFinite, beta >= 0 else { throw .invalid("--beta", "\(beta)", "a finite number ≥ 0") }
        for (flag, rate) in [("--lr", learningRate), ("--lr-encoder", encoderLearningRate), ("--lr-decoder", decoderLearningRate)] {
            if let rate, !(rate.isFinite && rate > 0) { throw .invalid(flag, "\(rate)", "a finite positive learning rate") }
        }
    }
}

/// A flag or configuration value that cannot be used.
public enum ConfigurationError: Error, CustomStringConvertible {
    case invalid(String, String, String)
    /// Sizes that would need more memory than `limit` holds.
    case tooLarge(what: String, bytes: Double, limit: MemoryLimits, detail: String)

    public var description: String {
        switch self {
        case .invalid(let what, let value, let expected): "\(what) \(value) is not valid: expected \(expected)"
        case .tooLarge(let what, let bytes, let limit, let detail):
            "\(what) needs \(formatBytes(bytes)) (\(detail)), more than \(limit) holds; choose smaller sizes"
        }
    }
}

extension Activation {
    /// Parses the names `description` prints (leaky-relu has slope 0.01).
    public init?(name: String) {
        guard let match = Activation.all.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = match
    }
}
