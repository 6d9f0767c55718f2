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
    public let architecture: any VAEArchitecture
    let backend: any Backend
    private var parameters: [String: [Float]]
    /// The limits sizes are checked against: the backend's and the host's.
    public var memoryLimits: [MemoryLimits] { Self.limits(of: backend) }

    static func limits(of backend: any Backend) -> [MemoryLimits] { [backend.memoryLimits, .host] }
    /// Small graphs built on first use, by purpose and batch size: executor, input, output.
    private var graphs: [String: (Executor, Graph.Tensor, Graph.Tensor)] = [:]

    /// A session on `architecture` with parameter values by name (checked when a graph is built).
    public init(architecture: any VAEArchitecture, parameters: [String: [Float]], backend: any Backend) throws {
        if let configuration = architecture as? ModelConfiguration {
            try configuration.validate()
            try MemoryBudget.checkInference(model: configuration, rows: 1, flag: nil, limits: Self.limits(of: backend))
        }
        self.architecture = architecture
        self.parameters = parameters
        self.backend = backend
    }

    /// A session on a checkpoint of a built-in model (its parameters checked against its configuration).
    public convenience init(checkpoint: Checkpoint, path: String, backend: any Backend) throws {
        let (configuration, _) = try CheckpointFormat.configurations(checkpoint, path: path)
        do {
            try self.init(architecture: configuration, parameters: [:], backend: backend)
        } catch let error as ConfigurationError {
            // The sizes came from the file, not from a flag: name the file.
            throw CheckpointError.badMetadata(path: path, field: "model", value: checkpoint.metadata["model"] ?? "", expected: "a model that fits: \(error)")
        }
        try loadParameters(checkpoint, path: path)
    }

    /// A session on a checkpoint of `architecture` (a model defined in Swift): the checkpoint's
    /// "model" metadata must equal `architecture.identity`, and every parameter must be present
    /// with the shape the architecture gives it.
    public convenience init(architecture: any VAEArchitecture, checkpoint: Checkpoint, path: String, backend: any Backend) throws {
        try CheckpointFormat.checkArchitecture(checkpoint, matches: architecture, path: path)
        try self.init(architecture: architecture, parameters: [:], backend: backend)
        try loadParameters(checkpoint, path: path)
    }

    private func loadParameters(_ checkpoint: Checkpoint, path: String) throws {
        let probe = Graph()
        let model = try VariationalAutoencoder(architecture, in: probe)
        for p in model.parameters {
            parameters[probe.name(p)] = try CheckpointFormat.tensor(checkpoint, probe.name(p), shape: probe.shape(p), path: path)
        }
    }

    /// Replaces the parameter values (after a training epoch).
    public func update(parameters: [String: [Float]]) throws {
        self.parameters = parameters
        for (executor, _, _) in graphs.values { try load(into: executor) }
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

    /// Runs `input` through a graph that `build` makes from the model and an input tensor of
    /// `shape` (built once per `key`).
    private func run(_ key: String, _ input: [Float], shape: Shape,
                     _ build: (Graph, VariationalAutoencoder, Graph.Tensor) throws -> Graph.Tensor) throws -> [Float] {
        if graphs[key] == nil {
            let g = Graph()
            let model = try VariationalAutoencoder(architecture, in: g)
            let x = try g.input("input", shape)
            graphs[key] = (try makeExecutor(g), x, try build(g, model, x))
        }
        guard let (executor, x, out) = graphs[key] else { return [] }
        try executor.setValue(input, for: x)
        let plan = try executor.compile(outputs: [out])
        try executor.run(plan)
        return try executor.value(of: out, in: plan)
    }

    /// E[x|z] for `count` latent vectors (row-major [count, latent]).
    public func decode(_ latents: [Float], count: Int) throws -> [Float] {
        try run("decode/\(count)", latents, shape: Shape(count, architecture.latentSize)) { g, model, z in
            try model.decodedMean(z, in: g)
        }
    }

    /// E[x | z = μ(x)] for `count` images: the model's reconstruction through the latent mean.
    public func reconstruct(_ images: [Float], count: Int) throws -> [Float] {
        try run("reconstruct/\(count)", images, shape: Shape(count, architecture.exampleSize)) { g, model, x in
            try model.decodedMean(try model.encode(x, in: g).mean, in: g)
        }
    }
}
