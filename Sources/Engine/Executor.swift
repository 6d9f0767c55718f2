import Dispatch
/// A compiled sequence of ops over a fixed set of buffers.
///
/// Made by `Executor.compile`: the nodes needed for the requested outputs and updates, in
/// topological order, with every computed tensor assigned a buffer. Buffers are reused once
/// the tensor they held is dead, unless reuse is turned off.
public final class Plan {
    struct Step {
        let op: Op
        let inputs: [TensorBuffer]
        let outputs: [TensorBuffer]
    }

    let steps: [Step]
    /// Buffers of computed tensors that can be read after a run (the requested outputs).
    let fetchable: [Int: TensorBuffer]
    /// Bytes of the computed tensors' buffers this plan allocated.
    public let peakBytes: Int
    /// Bytes the computed tensors would take with one buffer each.
    public let naiveBytes: Int
    /// Number of ops per run.
    public var opCount: Int { steps.count }
    /// The names of its ops in the order they run.
    public var opNames: [String] { steps.map(\.op.name) }

    init(steps: [Step], fetchable: [Int: TensorBuffer], peakBytes: Int, naiveBytes: Int) {
        self.steps = steps
        self.fetchable = fetchable
        self.peakBytes = peakBytes
        self.naiveBytes = naiveBytes
    }
}

/// Runs graphs on a backend: owns the persistent buffers (inputs, parameters, optimizer state,
/// constants), compiles plans and runs them. Several plans of one executor share its parameters.
///
/// Within a plan, an in-place update runs after every op of the plan that reads the tensors it
/// overwrites: a training step reads the parameters before updating them.
public final class Executor {
    public let graph: Graph
    public let backend: any Backend
    private var persistent: [Int: any DeviceBuffer] = [:]
    /// Bytes of the persistent buffers.
    private let persistentBytes: Int

    /// Allocates every persistent tensor of `graph` and initializes the parameters from `seed`.
    /// Throws `BackendError.insufficientMemory` before allocating anything when a tensor, or
    /// all of them, would not fit the backend's memory.
    public init(graph: Graph, backend: any Backend, seed: UInt64 = 0) throws {
        self.graph = graph
        self.backend = backend
        let limits = backend.memoryLimits
        var total = 0
        for (id, info) in graph.tensors.enumerated() where info.role.isPersistent {
            let bytes = max(info.spec.byteCount, 4)
            let what = "tensor \"\(graph.name(Graph.Tensor(id: id)))\" \(info.spec)"
            guard bytes <= limits.maxBufferBytes else { throw BackendError.insufficientMemory(what: what, bytes: bytes, limits: limits) }
            let (sum, overflow) = total.addingReportingOverflow(bytes)
            guard !overflow, sum <= limits.totalBytes else {
                throw BackendError.insufficientMemory(what: "the graph's parameters, inputs and state (up to \(what))", bytes: overflow ? Int.max : sum, limits: limits)
            }
            total = sum
        }
        persistentBytes = total
        var stream: UInt32 = 0
        for (id, info) in graph.tensors.enumerated() where info.role.isPersistent {
            let buffer = try backend.allocate(bytes: max(info.spec.byteCount, 4))
            persistent[id] = buffer
            let count = info.spec.count
            switch info.role {
            case .parameter(_, let initializer):
                let values: [Float] = switch initializer {
                case .zeros: [Float](repeating: 0, count: count)
                case .constant(let v): [Float](repeating: v, count: count)
                case .uniform(let bound): Philox.uniforms(count: count, bound: bound, seed: seed, stream: stream)
                }
                stream += 1
                try backend.upload(values, to: buffer)
            case .state:
                try backend.upload([Float](repeating: 0, count: count), to: buffer)
            case .constant(let values):
                try backend.upload(values, to: buffer)
            case .input:
                try backend.upload([UInt8](repeating: 0, count: info.spec.byteCount), to: buffer)
            case .computed:
                break
            }
        }
    }

    /// Compiles the nodes needed to compute `outputs` and perform `updates`. With `fuseOps`,
    /// pairs of ops that one op does at once are merged (a `vaeLoss` and the `vaeLossGradient`
    /// of its mean, see `fusingLossGradients`; a bias gradient's sum or a weight gradient's
    /// product and its Adam step, see `fusingUpdates`; a layer's input gradient and the
    /// activation derivative it goes through, see `fusingActivationGradients`); the results are
    /// the same.
    public func compile(outputs: [Graph.Tensor], updates: [Graph.Update] = [], reuseBuffers: Bool = true,
                        fuseOps: Bool = true) throws -> Plan {
        // Needed nodes: backward reachability from the targets.
        var needed = Set<Int>()
        var stack = outputs.compactMap { graph.tensors[$0.id].producer } + updates.map(\.node)
        while let n = stack.popLast() {
            guard needed.insert(n).inserted else { continue }
            stack += graph.nodes[n].inputs.compactMap { graph.tensors[$0.id].producer }
        }
        let scheduled = schedule(needed.sorted()).map { graph.nodes[$0] }
        let order = fuseOps ? fusingActivationGradients(fusingUpdates(fusingLossGradients(scheduled), outputs: outputs), outputs: outputs)
            : scheduled
        // A reshape's output is a view: it shares the buffer of its input's root tensor.
        var root: [Int: Int] = [:]
        func rootOf(_ id: Int) -> Int { root[id] ?? id }
        for node in order { if case .reshape = node.op { root[node.outputs[0].id] = rootOf(node.inputs[0].id) } }
        let keep = Set(outputs.map { rootOf($0.id) })

        // Last use of each computed tensor (by root) within the plan.
        var lastUse: [Int: Int] = [:]
        for (position, node) in order.enumerated() {
            for t in node.inputs { lastUse[rootOf(t.id)] = position }
        }

        var free: [any DeviceBuffer] = []
        var assigned: [Int: any DeviceBuffer] = [:]
        var peak = 0
        var naive = 0
        var steps: [Plan.Step] = []
        func bind(_ t: Graph.Tensor) -> TensorBuffer? {
            let buffer = persistent[rootOf(t.id)] ?? assigned[rootOf(t.id)]
            return buffer.map { TensorBuffer($0, graph.spec(t)) }
        }
        for (position, node) in order.enumerated() {
            if case .reshape = node.op { continue }
            var outs: [TensorBuffer] = []
            for t in node.outputs {
                let bytes = max(graph.spec(t).byteCount, 4)
                naive += bytes
                // Best fit among dead buffers; a fresh one if none fits.
                let fit = reuseBuffers ? free.indices.filter { free[$0].byteCount >= bytes }
                    .min { free[$0].byteCount < free[$1].byteCount } : nil
                let buffer: any DeviceBuffer
                if let fit {
                    buffer = free.remove(at: fit)
                } else {
                    let limits = backend.memoryLimits
                    guard bytes <= limits.maxBufferBytes, persistentBytes + peak + bytes <= limits.totalBytes else {
                        throw BackendError.insufficientMemory(what: "the plan's intermediate tensors (the next is \(graph.spec(t)) from \(node.op.name))",
                                                              bytes: persistentBytes + peak + bytes, limits: limits)
                    }
                    buffer = try backend.allocate(bytes: bytes)
                    peak += bytes
                }
                assigned[t.id] = buffer
                outs.append(TensorBuffer(buffer, graph.spec(t)))
            }
            let ins = try node.inputs.map { (t) throws -> TensorBuffer in
                guard let b = bind(t) else { throw GraphError.unknownTensor(t.id) }
                return b
            }
            steps.append(Plan.Step(op: node.op, inputs: ins, outputs: outs))
            // Inputs whose last use is this node die now; outputs nobody reads die at once.
            let dying = node.inputs.map { rootOf($0.id) }.filter { lastUse[$0] == position }
                + node.outputs.map(\.id).filter { lastUse[$0] == nil }
            for id in dying where !keep.contains(id) && graph.tensors[id].producer != nil {
                if let b = assigned[id], !free.contains(where: { $0 === b }) { free.append(b) }
            }
        }
        var fetchable: [Int: TensorBuffer] = [:]
        for t in outputs { fetchable[t.id] = bind(t) }
        return Plan(steps: steps, fetchable: fetchable, peakBytes: peak, naiveBytes: naive)
    }

    /// `nodes` with each `vaeLossGradient` whose inputs are exactly a `vaeLoss`'s (earlier in
    /// `nodes`) and an incoming d(mean) that no node computes (a training step's seed, a
    /// constant) merged into that loss: one `vaeLossWithGradient` node in the loss's place with
    /// the outputs of both, so the backend reads the decoder output once for the loss and its
    /// gradient (on PoCL one pass over the pixels and one launch fewer per training step).
    /// The gradient's outputs are then computed earlier than before, never later.
    func fusingLossGradients(_ nodes: [Graph.Node]) -> [Graph.Node] {
        var result = nodes
        var dropped = Set<Int>()
        for (g, node) in nodes.enumerated() {
            guard case .vaeLossGradient(let objective) = node.op, let dLoss = node.inputs.last,
                  graph.tensors[dLoss.id].producer == nil,
                  let l = result.indices.first(where: { $0 < g && result[$0].op == .vaeLoss(objective)
                                                        && result[$0].inputs == Array(node.inputs.dropLast()) })
            else { continue }
            result[l] = Graph.Node(op: .vaeLossWithGradient(objective), inputs: node.inputs, outputs: result[l].outputs + node.outputs)
            dropped.insert(g)
        }
        return result.indices.filter { !dropped.contains($0) }.map { result[$0] }
    }

    /// `nodes` with each `adam` whose gradient nothing else reads (and that is not a requested
    /// output) merged with the op that computes it, in the update's place: a bias gradient's
    /// `reduce(.sum, .rows)` becomes `adamSummingRows` (the sums formed in the update), a weight
    /// gradient's `matmul(transposeA: true)` becomes `adamTransposedProduct` (the product formed
    /// in the update, never stored). On PoCL each is one launch and one gradient buffer fewer.
    /// Then a layer's two steps become one (`mergingBiasUpdates`).
    func fusingUpdates(_ nodes: [Graph.Node], outputs: [Graph.Tensor]) -> [Graph.Node] {
        let (readers, producer) = Self.readersAndProducers(nodes)
        var result = nodes
        var dropped = Set<Int>()
        for (u, node) in nodes.enumerated() {
            guard case .adam(let h) = node.op, readers[node.inputs[1]] == 1, !outputs.contains(node.inputs[1]),
                  let r = producer[node.inputs[1]] else { continue }
            let (p, m, v) = (node.inputs[0], node.inputs[2], node.inputs[3])
            switch nodes[r].op {
            case .reduce(.sum, .rows):
                result[u] = Graph.Node(op: .adamSummingRows(h), inputs: [p, nodes[r].inputs[0], m, v], outputs: [])
            case .matmul(transposeA: true, transposeB: false):
                result[u] = Graph.Node(op: .adamTransposedProduct(h, bias: false), inputs: [p] + nodes[r].inputs + [m, v], outputs: [])
            default:
                continue
            }
            dropped.insert(r)
        }
        return mergingBiasUpdates(result.indices.filter { !dropped.contains($0) }.map { result[$0] })
    }

    /// `nodes` with each `adamSummingRows` merged into the `adamTransposedProduct` that reads
    /// the same A (a dense layer's bias and weight steps, both from its output gradient dY),
    /// with the same hyperparameters: one `adamTransposedProduct(bias: true)` in the later of
    /// the two places, when no node between them reads or writes what the earlier one updates.
    func mergingBiasUpdates(_ nodes: [Graph.Node]) -> [Graph.Node] {
        var result = nodes
        var dropped = Set<Int>(), merged = Set<Int>()
        for (b, node) in nodes.enumerated() {
            guard case .adamSummingRows(let h) = node.op,
                  let w = nodes.indices.first(where: { !merged.contains($0) && nodes[$0].op == .adamTransposedProduct(h, bias: false)
                                                       && nodes[$0].inputs[1] == node.inputs[1] })
            else { continue }
            let (early, late) = (min(b, w), max(b, w))
            let moved = Set(nodes[early].op.mutatedInputs.map { nodes[early].inputs[$0] })
            guard !nodes[(early + 1)..<late].contains(where: { $0.inputs.contains(where: moved.contains) }) else { continue }
            let weight = nodes[w]
            result[late] = Graph.Node(op: .adamTransposedProduct(h, bias: true),
                                      inputs: weight.inputs + [node.inputs[0], node.inputs[2], node.inputs[3]], outputs: [])
            dropped.insert(early)
            merged.insert(w)
        }
        return result.indices.filter { !dropped.contains($0) }.map { result[$0] }
    }

    /// `nodes` with each `activationGradient` whose incoming gradient is an NN `matmul`, or the
    /// `add` of some gradient c and an NN `matmul`, merged with them into one
    /// `productActivationGradient` when nothing else reads the product or the sum (nor are they
    /// requested outputs). The merged node takes the product's place, not the derivative's: an
    /// optimizer step between them may overwrite the product's weights. So it needs y, and c,
    /// computed before the product; else the nodes stay apart.
    func fusingActivationGradients(_ nodes: [Graph.Node], outputs: [Graph.Tensor]) -> [Graph.Node] {
        let (readers, producer) = Self.readersAndProducers(nodes)
        /// The node computing t when nothing else reads t.
        func soleProducer(_ t: Graph.Tensor, of op: Op) -> Int? {
            guard readers[t] == 1, !outputs.contains(t), let p = producer[t], nodes[p].op == op else { return nil }
            return p
        }
        let product = Op.matmul(transposeA: false, transposeB: false)
        var result = nodes
        var dropped = Set<Int>()
        for (g, node) in nodes.enumerated() {
            guard case .activationGradient(let act) = node.op else { continue }
            let (y, dy) = (node.inputs[0], node.inputs[1])
            var place: Int, extra: [Graph.Tensor], gone: [Int]
            if let p = soleProducer(dy, of: product) {
                (place, extra, gone) = (p, [y], [g])
            } else if let a = soleProducer(dy, of: .add) {
                // The later-computed term as the product, so the other one is ready before it.
                let terms = nodes[a].inputs
                guard terms[0] != terms[1] else { continue }
                let ordered = terms.sorted { (producer[$0] ?? -1) > (producer[$1] ?? -1) }
                guard let p = soleProducer(ordered[0], of: product) else { continue }
                (place, extra, gone) = (p, [y, ordered[1]], [g, a])
            } else {
                continue
            }
            guard extra.allSatisfy({ (producer[$0] ?? -1) < place }) else { continue }
            result[place] = Graph.Node(op: .productActivationGradient(act, accumulate: extra.count == 2),
                                       inputs: nodes[place].inputs + extra, outputs: node.outputs)
            dropped.formUnion(gone)
        }
        return result.indices.filter { !dropped.contains($0) }.map { result[$0] }
    }

    /// How many nodes read each tensor, and the index of the node computing it, in `nodes`.
    private static func readersAndProducers(_ nodes: [Graph.Node]) -> (readers: [Graph.Tensor: Int], producer: [Graph.Tensor: Int]) {
        var readers: [Graph.Tensor: Int] = [:]
        for node in nodes { for t in node.inputs { readers[t, default: 0] += 1 } }
        var producer: [Graph.Tensor: Int] = [:]
        for (i, node) in nodes.enumerated() { for t in node.outputs { producer[t] = i } }
        return (readers, producer)
    }

    /// Moves each in-place update to just after the last node it depends on or that reads a
    /// tensor it overwrites, so a gradient dies as soon as its optimizer step has consumed it
    /// (instead of all gradients living until the end of the backward pass).
    private func schedule(_ order: [Int]) -> [Int] {
        let isUpdate = { (n: Int) in !self.graph.nodes[n].op.mutatedInputs.isEmpty }
        var lastReader: [Int: Int] = [:]
        for n in order where !isUpdate(n) {
            for t in graph.nodes[n].inputs { lastReader[t.id] = n }
        }
        var after: [Int: [Int]] = [:]
        for u in order where isUpdate(u) {
            let node = graph.nodes[u]
            let producers = node.inputs.compactMap { graph.tensors[$0.id].producer }
            let readers = node.op.mutatedInputs.compactMap { lastReader[node.inputs[$0].id] }
            after[(producers + readers).max() ?? -1, default: []].append(u)
        }
        var result = after[-1] ?? []
        for n in order where !isUpdate(n) {
            result.append(n)
            result += after[n] ?? []
        }
        return result
    }

    /// Enqueues one run of `plan`. Nothing is read back; use `value(of:in:)` for that.
    public func run(_ plan: Plan, context: RunContext = RunContext()) throws {
        for step in plan.steps {
            try backend.execute(step.op, inputs: step.inputs, outputs: step.outputs, context: context)
        }
    }

    /// Seconds per run spent in each kind of op of `plan` (ops grouped by name), measured by
    /// running the plan `runs` times with a wait after every op, so each op's time is its own
    /// (the waits make the whole slower than `run`). Largest first. For `vae bench`.
    public func profile(_ plan: Plan, context: RunContext = RunContext(), runs: Int = 10) throws -> [OpTime] {
        var totals: [String: (seconds: Double, count: Int)] = [:]
        try backend.synchronize()
        for _ in 0..<max(1, runs) {
            for step in plan.steps {
                let start = DispatchTime.now().uptimeNanoseconds
                try backend.execute(step.op, inputs: step.inputs, outputs: step.outputs, context: context)
                try backend.synchronize()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                totals[step.op.name, default: (0, 0)].seconds += seconds
                totals[step.op.name, default: (0, 0)].count += 1
            }
        }
        let n = Double(max(1, runs))
        return totals.map { OpTime(name: $0.key, seconds: $0.value.seconds / n, count: $0.value.count / max(1, runs)) }
            .sorted { $0.seconds > $1.seconds }
    }

    /// The current value of a tensor: a persistent one, or an output of `plan` after a run.
    /// Waits for queued work.
    public func value(of tensor: Graph.Tensor, in plan: Plan? = nil) throws -> [Float] {
        guard let buffer = persistent[tensor.id] ?? plan?.fetchable[tensor.id]?.buffer else {
            throw GraphError.unknownTensor(tensor.id)
        }
        return try backend.download(buffer, count: graph.spec(tensor).count)
    }

    /// Copies the current value of a tensor (as `value(of:in:)`) into `floats`, which must have
    /// room for it; for exchanges that reuse one host buffer.
    public func read(_ tensor: Graph.Tensor, in plan: Plan? = nil, into floats: UnsafeMutableBufferPointer<Float>) throws {
        guard let buffer = persistent[tensor.id] ?? plan?.fetchable[tensor.id]?.buffer else {
            throw GraphError.unknownTensor(tensor.id)
        }
        let count = graph.spec(tensor).count
        guard count <= floats.count else { throw BackendError.sizeMismatch(what: "read of \(graph.name(tensor))", expected: count * 4, got: floats.count * 4) }
        try backend.read(buffer, offset: 0, into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(floats)[0..<count * 4]))
    }

    /// Sets a persistent float tensor from exactly its number of `floats`.
    public func write(_ floats: UnsafeBufferPointer<Float>, to tensor: Graph.Tensor) throws {
        guard let buffer = persistent[tensor.id] else { throw GraphError.unknownTensor(tensor.id) }
        let spec = graph.spec(tensor)
        guard floats.count == spec.count, spec.dtype == .float32 else {
            throw BackendError.sizeMismatch(what: "value for \(graph.name(tensor)) \(spec)", expected: spec.byteCount, got: floats.count * 4)
        }
        try backend.write(UnsafeRawBufferPointer(floats), to: buffer, offset: 0)
    }

    /// Sets a persistent tensor (an input, a parameter, optimizer state).
    public func setValue<T: BitwiseCopyable>(_ values: [T], for tensor: Graph.Tensor) throws {
        guard let buffer = persistent[tensor.id] else { throw GraphError.unknownTensor(tensor.id) }
        let spec = graph.spec(tensor)
        guard values.count == spec.count, MemoryLayout<T>.stride == spec.dtype.byteSize else {
            throw BackendError.sizeMismatch(what: "value for \(graph.name(tensor)) \(spec)",
                                            expected: spec.byteCount, got: values.count * MemoryLayout<T>.stride)
        }
        try backend.upload(values, to: buffer)
    }
}

/// One kind of op's share of a plan run (`Executor.profile`).
public struct OpTime: Sendable {
    /// The op's name (`Op.name`), e.g. "matmul" or "vaeLoss".
    public var name: String
    /// Seconds per run of the plan, all ops of this name together.
    public var seconds: Double
    /// Ops of this name in one run.
    public var count: Int

    public init(name: String, seconds: Double, count: Int) {
        (self.name, self.seconds, self.count) = (name, seconds, count)
    }
}
