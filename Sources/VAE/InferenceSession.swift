import Engine

/// −ELBO of a data set, in nats per example, with its two parts.
public struct ELBOReport: Equatable, Sendable {
    public var negativeELBO: Double
    public var reconstruction: Double
    public var kl: Double
}

/// Uses a model's parameters on a backend: evaluates a data set, decodes latents, reconstructs
/// images. Graphs are built on first use for each batch size and share the parameter values.
public final class InferenceSession {
    public let configuration: ModelConfiguration
    let backend: any Backend
    private var parameters: [String: [Float]]
    private var decoders: [Int: (Executor, Graph.Tensor, Graph.Tensor)] = [:]
    private var reconstructors: [Int: (Executor, Graph.Tensor, Graph.Tensor)] = [:]

    public init(configuration: ModelConfiguration, parameters: [String: [Float]], backend: any Backend) throws {
        try configuration.validate()
        self.configuration = configuration
        self.parameters = parameters
        self.backend = backend
    }

    /// A session on a checkpoint's model (its parameters checked against its configuration).
    public convenience init(checkpoint: Checkpoint, path: String, backend: any Backend) throws {
        let (configuration, _) = try CheckpointFormat.configurations(checkpoint, path: path)
        try self.init(configuration: configuration, parameters: [:], backend: backend)
        let probe = Graph()
        let model = try VariationalAutoencoder(configuration, in: probe)
        for p in model.parameters {
            parameters[probe.name(p)] = try CheckpointFormat.tensor(checkpoint, probe.name(p), shape: probe.shape(p), path: path)
        }
    }

    /// Replaces the parameter values (after a training epoch).
    public func update(parameters: [String: [Float]]) throws {
        self.parameters = parameters
        for (executor, _, _) in Array(decoders.values) + Array(reconstructors.values) { try load(into: executor) }
    }

    private func load(into executor: Executor) throws {
        for (name, tensor) in executor.graph.trainedTensors {
            guard let values = parameters[name] else { throw CheckpointError.missingTensor(path: "the model", tensor: name) }
            try executor.setValue(values, for: tensor)
        }
    }

    func makeExecutor(_ graph: Graph) throws -> Executor {
        let executor = try Executor(graph: graph, backend: backend)
        try load(into: executor)
        return executor
    }

    /// E[x|z] for `count` latent vectors (row-major [count, latent]).
    public func decode(_ latents: [Float], count: Int) throws -> [Float] {
        if decoders[count] == nil {
            let g = Graph()
            let model = try VariationalAutoencoder(configuration, in: g)
            let z = try g.input("z", Shape(count, configuration.latentSize))
            let images = try model.decodedMean(z, in: g)
            decoders[count] = (try makeExecutor(g), z, images)
        }
        guard let (executor, z, images) = decoders[count] else { return [] }
        try executor.setValue(latents, for: z)
        let plan = try executor.compile(outputs: [images])
        try executor.run(plan)
        return try executor.value(of: images, in: plan)
    }

    /// E[x | z = μ(x)] for `count` images: the model's reconstruction through the latent mean.
    public func reconstruct(_ images: [Float], count: Int) throws -> [Float] {
        if reconstructors[count] == nil {
            let g = Graph()
            let model = try VariationalAutoencoder(configuration, in: g)
            let x = try g.input("x", Shape(count, configuration.inputSize))
            let out = try model.decodedMean(try model.encode(x, in: g).mean, in: g)
            reconstructors[count] = (try makeExecutor(g), x, out)
        }
        guard let (executor, x, out) = reconstructors[count] else { return [] }
        try executor.setValue(images, for: x)
        let plan = try executor.compile(outputs: [out])
        try executor.run(plan)
        return try executor.value(of: out, in: plan)
    }
}
