/// How a parameter's initial values are drawn (on the host, from Philox keyed by the
/// executor's seed and the parameter's position, so a seed gives the same model on any backend).
public enum Initializer: Hashable, Sendable {
    case zeros
    case constant(Float)
    /// U(−bound, bound); PyTorch's `nn.Linear` default is bound = 1/√fan_in.
    case uniform(bound: Float)
}

/// What a tensor is to the executor.
public enum TensorRole: Hashable, Sendable {
    /// Data fed by the caller before a run (persistent).
    case input(String)
    /// A trainable parameter (persistent, initialized by the executor).
    case parameter(String, Initializer)
    /// Optimizer state such as Adam's moments (persistent, zero-initialized).
    case state(String)
    /// Fixed values known when the graph is built (persistent).
    case constant([Float])
    /// Produced by an op; its buffer may be reused once it is dead.
    case computed

    public var isPersistent: Bool { if case .computed = self { false } else { true } }
}

/// A static computation graph: tensors, and the ops that produce them, in the order they were
/// added (which is a topological order). Shapes are checked as each node is made.
public final class Graph {
    /// A tensor of this graph.
    public struct Tensor: Hashable, Sendable { public let id: Int }
    /// An in-place update (an optimizer step) of this graph.
    public struct Update: Hashable, Sendable { public let node: Int }

    public struct TensorInfo: Sendable {
        public let spec: TensorSpec
        public let role: TensorRole
        /// The node that computes it, for `.computed` tensors.
        public let producer: Int?
    }

    public struct Node: Sendable {
        public let op: Op
        public let inputs: [Tensor]
        public let outputs: [Tensor]
    }

    public private(set) var tensors: [TensorInfo] = []
    public private(set) var nodes: [Node] = []
    private var names: Set<String> = []

    public init() {}

    public func spec(_ t: Tensor) -> TensorSpec { tensors[t.id].spec }
    public func shape(_ t: Tensor) -> Shape { tensors[t.id].spec.shape }
    public func role(_ t: Tensor) -> TensorRole { tensors[t.id].role }

    /// The parameters, in the order they were made.
    public var parameters: [Tensor] {
        tensors.indices.filter { if case .parameter = tensors[$0].role { true } else { false } }.map(Tensor.init)
    }

    /// Parameters and optimizer state with their names, in the order they were made: what a
    /// checkpoint holds.
    public var trainedTensors: [(name: String, tensor: Tensor)] {
        tensors.indices.compactMap { i in
            switch tensors[i].role {
            case .parameter(let n, _), .state(let n): (n, Tensor(id: i))
            default: nil
            }
        }
    }

    /// The name of an input, parameter or state tensor; "#id" for others.
    public func name(_ t: Tensor) -> String {
        switch tensors[t.id].role {
        case .input(let n), .parameter(let n, _), .state(let n): n
        case .constant, .computed: "#\(t.id)"
        }
    }

    /// The named input, parameter or state tensor, if any.
    public func tensor(named name: String) -> Tensor? {
        tensors.indices.first { i in
            switch tensors[i].role {
            case .input(let n), .parameter(let n, _), .state(let n): n == name
            default: false
            }
        }.map(Tensor.init)
    }

    private func addLeaf(_ spec: TensorSpec, _ role: TensorRole, name: String?) throws(GraphError) -> Tensor {
        guard spec.checkedByteCount != nil else { throw .tooLarge(what: name.map { "tensor \"\($0)\"" } ?? "a constant", shape: spec.shape) }
        guard (1...4).contains(spec.shape.rank) else {
            throw .shapeMismatch(op: name.map { "tensor \"\($0)\"" } ?? "a constant", detail: "shape \(spec.shape) must have rank 1 to 4")
        }
        if let name {
            guard names.insert(name).inserted else { throw .nameInUse(name) }
        }
        tensors.append(TensorInfo(spec: spec, role: role, producer: nil))
        return Tensor(id: tensors.count - 1)
    }

    public func input(_ name: String, _ shape: Shape, _ dtype: DType = .float32) throws(GraphError) -> Tensor {
        try addLeaf(TensorSpec(shape, dtype), .input(name), name: name)
    }

    public func parameter(_ name: String, _ shape: Shape, _ initializer: Initializer) throws(GraphError) -> Tensor {
        try addLeaf(TensorSpec(shape), .parameter(name, initializer), name: name)
    }

    /// Zero-initialized optimizer state.
    public func state(_ name: String, _ shape: Shape) throws(GraphError) -> Tensor {
        try addLeaf(TensorSpec(shape), .state(name), name: name)
    }

    public func constant(_ values: [Float], _ shape: Shape) throws(GraphError) -> Tensor {
        guard values.count == shape.count else {
            throw .shapeMismatch(op: "constant", detail: "\(values.count) values for shape \(shape)")
        }
        return try addLeaf(TensorSpec(shape), .constant(values), name: nil)
    }

    private func check(_ t: Tensor) throws(GraphError) {
        guard t.id >= 0, t.id < tensors.count else { throw .unknownTensor(t.id) }
    }

    /// Adds a node; returns its outputs. Throws when the inputs do not fit the op.
    @discardableResult
    public func apply(_ op: Op, _ inputs: [Tensor]) throws(GraphError) -> [Tensor] {
        for t in inputs { try check(t) }
        let specs = try op.outputSpecs(for: inputs.map(spec))
        for s in specs where s.checkedByteCount == nil { throw .tooLarge(what: "the output of \(op.name)", shape: s.shape) }
        for i in op.mutatedInputs where !tensors[inputs[i].id].role.isPersistent {
            throw .notPersistent(op: op.name, tensor: name(inputs[i]))
        }
        let node = nodes.count
        var outputs: [Tensor] = []
        for s in specs {
            tensors.append(TensorInfo(spec: s, role: .computed, producer: node))
            outputs.append(Tensor(id: tensors.count - 1))
        }
        nodes.append(Node(op: op, inputs: inputs, outputs: outputs))
        return outputs
    }

    func single(_ op: Op, _ inputs: [Tensor]) throws(GraphError) -> Tensor {
        try apply(op, inputs)[0]
    }

    // MARK: Model-facing vocabulary

    /// act(x·Wᵀ + b): x [M, K], W [N, K], b [N] → [M, N].
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor, activation: Activation = .identity) throws(GraphError) -> Tensor {
        try single(.linear(activation: activation), [x, weight, bias])
    }

    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws(GraphError) -> Tensor {
        try single(.matmul(transposeA: transposeA, transposeB: transposeB), [a, b])
    }

    public func activation(_ x: Tensor, _ activation: Activation) throws(GraphError) -> Tensor {
        try single(.activation(activation), [x])
    }

    public func add(_ a: Tensor, _ b: Tensor) throws(GraphError) -> Tensor { try single(.add, [a, b]) }

    /// The same elements viewed as `shape` (same count, rank 1 to 4); copies nothing.
    public func reshape(_ x: Tensor, _ shape: Shape) throws(GraphError) -> Tensor { try single(.reshape(shape), [x]) }

    /// [N, …] viewed as [N, rest]: the rows a dense layer takes.
    public func flatten(_ x: Tensor) throws(GraphError) -> Tensor {
        let s = shape(x)
        return s.rank == 2 ? x : try reshape(x, Shape(s.rows, s.columns))
    }

    /// act(conv(x, W) + b): x [N, C, H, W], W [O, C, kh, kw], b [O] (or none) → [N, O, Ho, Wo].
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                       activation: Activation = .identity) throws(GraphError) -> Tensor {
        try single(.conv2d(ConvolutionGeometry(stride: stride, padding: padding), activation: activation, bias: bias != nil),
                   [x, weight] + (bias.map { [$0] } ?? []))
    }

    /// act(convᵀ(x, W) + b): x [N, Cin, H, W], W [Cin, Cout, kh, kw], b [Cout] (or none) →
    /// [N, Cout, (H−1)s−2p+kh+outputPadding, (W−1)s−2p+kw+outputPadding].
    public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                                outputPadding: Int = 0, activation: Activation = .identity) throws(GraphError) -> Tensor {
        try single(.convTranspose2d(ConvolutionGeometry(stride: stride, padding: padding, outputPadding: outputPadding),
                                    activation: activation, bias: bias != nil),
                   [x, weight] + (bias.map { [$0] } ?? []))
    }

    public func sum(_ x: Tensor, over axis: ReductionAxis = .all) throws(GraphError) -> Tensor {
        try single(.reduce(.sum, axis), [x])
    }

    public func mean(_ x: Tensor, over axis: ReductionAxis = .all) throws(GraphError) -> Tensor {
        try single(.reduce(.mean, axis), [x])
    }

    /// `x` scaled by a constant, for a scalar or a vector.
    public func scale(_ x: Tensor, by factor: Float) throws(GraphError) -> Tensor {
        try single(.broadcast(shape(x), scale: factor), [x])
    }

    /// z = μ + exp(½ log σ²) ⊙ ε, ε ~ N(0, I) keyed by (seed, step, sample, element).
    public func reparameterize(mean: Tensor, logVariance: Tensor, seed: UInt64, sample: UInt32 = 0) throws(GraphError) -> Tensor {
        try single(.reparameterize(seed: seed, sample: sample), [mean, logVariance])
    }

    public func randomNormal(_ shape: Shape, seed: UInt64) throws(GraphError) -> Tensor {
        try single(.randomNormal(shape, seed: seed), [])
    }

    /// The negative ELBO of one z sample: per-example (reconstruction, KL) [B, 2] in nats, and the
    /// batch mean of reconstruction + β·KL [1]. The Monte-Carlo KL needs the sampled `z`, the
    /// `.gaussianPerFeature` likelihood its `variances` [D].
    public func vaeLoss(data x: Tensor, decoded: Tensor, mean: Tensor, logVariance: Tensor, z: Tensor? = nil,
                        variances: Tensor? = nil, objective: VAEObjective) throws(GraphError) -> (terms: Tensor, loss: Tensor) {
        var inputs = [x, decoded, mean, logVariance]
        if objective.kl == .monteCarlo {
            guard let z else { throw .shapeMismatch(op: "vaeLoss", detail: "the Monte-Carlo KL needs the sampled z") }
            inputs.append(z)
        }
        if objective.varianceIndex != nil {
            guard let variances else { throw .shapeMismatch(op: "vaeLoss", detail: "the Gaussian with given variances needs them, [D]") }
            inputs.append(variances)
        }
        let out = try apply(.vaeLoss(objective), inputs)
        return (out[0], out[1])
    }

    public func vaeLoss(data x: Tensor, decoded: Tensor, mean: Tensor, logVariance: Tensor,
                        likelihood: Likelihood, beta: Float = 1) throws(GraphError) -> (terms: Tensor, loss: Tensor) {
        try vaeLoss(data: x, decoded: decoded, mean: mean, logVariance: logVariance,
                    objective: VAEObjective(likelihood: likelihood, beta: beta))
    }

    public func gather(_ table: Tensor, indices: Tensor, rows: Int) throws(GraphError) -> Tensor {
        try single(.gather(rows: rows), [table, indices])
    }

    /// An in-place optimizer step on persistent tensors (see `Op.mutatedInputs`).
    public func update(_ op: Op, _ inputs: [Tensor]) throws(GraphError) -> Update {
        try apply(op, inputs)
        return Update(node: nodes.count - 1)
    }
}
