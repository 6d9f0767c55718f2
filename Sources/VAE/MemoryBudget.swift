import Engine

/// Memory a model needs, estimated from its configuration before any graph is built, so that a
/// size from a flag or from checkpoint metadata that cannot fit is refused with a message that
/// names the flags, the size and the limit, instead of failing an allocation. Sums are in
/// Double, so products of huge flags cannot overflow. The executor checks every real
/// allocation again (`BackendError.insufficientMemory`).
public enum MemoryBudget {
    /// Most z samples per example in training. The draws are rows of one batch (L·B rows through
    /// the decoder), so memory, not the graph, limits L; the activations' estimate below checks it.
    public static let maxSamples = 1_000_000
    /// Most hidden layers: each adds two layers to the graph.
    public static let maxHiddenLayers = 100

    /// Floats in the model's parameters, and in its largest weight matrix.
    static func parameters(_ m: ModelConfiguration) -> (total: Double, largest: Double, layer: String) {
        let widths = [m.inputSize] + m.hiddenSizes, d = m.latentSize
        // (name, inputs, outputs) of each dense layer.
        var layers: [(String, Int, Int)] = []
        for i in 0..<m.hiddenSizes.count { layers.append(("encoder.\(i)", widths[i], widths[i + 1])) }
        layers += [("mean", widths.last!, d), ("logvar", widths.last!, d)]
        let back = [d] + widths.dropFirst().reversed()
        for i in 0..<m.hiddenSizes.count { layers.append(("decoder.\(i)", back[i], back[i + 1])) }
        layers.append(("output", back.last!, m.inputSize))
        let size = { (l: (String, Int, Int)) in Double(l.1) * Double(l.2) }
        let total = layers.reduce(0.0) { $0 + size($1) + Double($1.2) }
        let largest = layers.max { size($0) < size($1) }!
        return (total, size(largest), "\(largest.0).weight [\(largest.2)×\(largest.1)]")
    }

    /// Floats of one example's activations and their gradients through encoder and decoder.
    static func activationsPerExample(_ m: ModelConfiguration) -> Double {
        let hidden = m.hiddenSizes.reduce(0.0) { $0 + Double($1) }
        return 2 * (2 * hidden + 5 * Double(m.latentSize) + 3 * Double(m.inputSize))
    }

    /// Throws unless training `model` with `training` on `examples` examples fits `limits`
    /// (the backend's and the host's).
    public static func checkTraining(model m: ModelConfiguration, training t: TrainingConfiguration, examples: Int,
                                     limits: [MemoryLimits]) throws(ConfigurationError) {
        try checkShape(m)
        guard t.samples <= maxSamples else {
            throw .invalid("--samples", "\(t.samples)", "at most \(maxSamples) z samples per example")
        }
        let p = parameters(m)
        // Parameters, gradients and Adam's two moments.
        let state = 4 * 4 * p.total
        let activations = 4 * Double(t.batchSize) * Double(t.samples) * activationsPerExample(m)
        let data = 4 * Double(examples) * Double(m.inputSize)
        for limit in limits {
            try fits(largest: 4 * p.largest, what: "the layer \(p.layer) of the model \(summary(m)) (--hidden, --latent)", limit)
            try fits(largest: data, what: "the training set (\(examples) examples of \(m.inputSize) values; --data, --limit), which lives on the device,", limit)
            try fits(largest: 4 * Double(t.batchSize) * Double(t.samples) * Double(max(m.inputSize, m.hiddenSizes.max() ?? 0)),
                     what: "one batch's activations (--batch-size \(t.batchSize) × --samples \(t.samples))", limit)
            let total = state + activations + data
            guard total <= Double(limit.totalBytes) else {
                throw .tooLarge(what: "training the model \(summary(m)) (--hidden, --latent) with --batch-size \(t.batchSize) and --samples \(t.samples)",
                                bytes: total, limit: limit,
                                detail: "parameters and Adam's state \(formatBytes(state)), activations \(formatBytes(activations)), training set \(formatBytes(data))")
            }
        }
    }

    /// Throws unless the model and `rows` examples through it at once fit `limits`; `flag`
    /// names what asked for the rows ("--count 64"), nil for the model alone.
    public static func checkInference(model architecture: any VAEArchitecture, rows: Double, flag: String?, limits: [MemoryLimits],
                                      hostBytesPerRow: Double = 0) throws(ConfigurationError) {
        guard let m = architecture as? ModelConfiguration, m.architecture == .mlp else {
            // Other models: the rows' inputs and outputs here; the executor checks every tensor it allocates.
            for limit in limits {
                try fits(largest: 4 * rows * Double(architecture.exampleSize), what: flag ?? "a batch", limit)
                let total = rows * (8 * Double(architecture.exampleSize) + hostBytesPerRow)
                guard total <= Double(limit.totalBytes) else {
                    throw .tooLarge(what: flag ?? "a batch", bytes: total, limit: limit, detail: "\(Int(min(rows, 1e18))) examples at once")
                }
            }
            return
        }
        try checkShape(m)
        let p = parameters(m)
        for limit in limits {
            try fits(largest: 4 * p.largest, what: "the layer \(p.layer) of the model \(summary(m))", limit)
            let batch = 4 * rows * activationsPerExample(m) + hostBytesPerRow * rows
            try fits(largest: 4 * rows * Double(max(m.inputSize, m.hiddenSizes.max() ?? 0)), what: flag ?? "a batch", limit)
            let total = 4 * p.total + batch
            guard total <= Double(limit.totalBytes) else {
                throw .tooLarge(what: flag.map { "\($0) with the model \(summary(m))" } ?? "the model \(summary(m))", bytes: total, limit: limit,
                                detail: "parameters \(formatBytes(4 * p.total)), \(Int(min(rows, 1e18))) examples at once \(formatBytes(batch))")
            }
        }
    }

    static func checkShape(_ m: ModelConfiguration) throws(ConfigurationError) {
        guard m.hiddenSizes.count <= maxHiddenLayers else {
            throw .invalid("--hidden", "with \(m.hiddenSizes.count) layers", "at most \(maxHiddenLayers) hidden layers")
        }
    }

    private static func fits(largest bytes: Double, what: String, _ limit: MemoryLimits) throws(ConfigurationError) {
        guard bytes <= Double(limit.maxBufferBytes) else {
            throw .tooLarge(what: what, bytes: bytes, limit: limit, detail: "as one buffer")
        }
    }

    static func summary(_ m: ModelConfiguration) -> String {
        ([m.inputSize] + m.hiddenSizes + [m.latentSize]).map(String.init).joined(separator: "-")
    }
}
