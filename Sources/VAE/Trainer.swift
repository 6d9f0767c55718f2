import Engine
import Foundation

/// Training that cannot go on; the message names the step and what went wrong.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case nonFinite(step: UInt64, detail: String)

    public var description: String {
        switch self {
        case .nonFinite(let step, let detail):
            "training stopped at step \(step): \(detail). The last good checkpoint is kept; try a smaller --lr or a different --seed."
        }
    }
}

/// Trains a VAE on one backend: the training set lives on the device (or is streamed to it in
/// shards, see `DataShards`), each epoch uploads a shuffled index list, and each step gathers its batch there, runs forward, backward and Adam
/// without reading anything back. The loss is summed on the device and read once per epoch
/// (and every `reportEvery` steps for progress).
public final class Trainer {
    public let model: VariationalAutoencoder
    public let training: TrainingConfiguration
    public let examples: Int
    /// The training set's size and checksum, stored in checkpoints.
    public let data: DataIdentity
    let graph = Graph()
    let executor: Executor
    let order: Graph.Tensor
    let table: Graph.Tensor
    let loss: Graph.Tensor
    /// Per-example (reconstruction, KL) of the step, to name the term that went bad.
    let terms: Graph.Tensor
    let lossSum: Graph.Tensor
    /// The parts of one step: [joint] or [E-step, M-step].
    let parts: [StepPart]
    /// The compute plan of each part (for a single process, with its optimizer step).
    var plans: [Plan] { parts.map(\.plan) }
    /// The data-parallel processes this trainer is one of (nil: one process).
    public let group: (any ProcessGroup)?
    /// Completed epochs and steps, and the steps done of the epoch in flight (non-zero only
    /// after `trainEpoch` was asked to stop early, or after restoring such a checkpoint).
    public private(set) var epoch = 0
    public private(set) var step: UInt64 = 0
    public private(set) var stepInEpoch = 0
    /// Time spent exchanging gradients with the group (zero for one process); reset by the caller.
    public var exchangeTime = ExchangeTime()

    /// Examples per step in this process (`--batch-size`).
    public var batchSize: Int { training.batchSize }
    /// Examples per step in all processes together: `batchSize` × ranks.
    public var globalBatchSize: Int { training.batchSize * (group?.size ?? 1) }
    /// Full global batches per epoch (the remainder of a shuffle is left for a later epoch).
    public var stepsPerEpoch: Int { examples / globalBatchSize }
    /// The host copy and shard size when the training set is streamed (nil: all on the device).
    let shards: DataShards?
    /// Examples per device shard when the training set is streamed, else nil.
    public var shardExamples: Int? { shards?.rows }

    /// A trainer for `architecture` on `data`. `optimizer` defaults to Adam at the training
    /// configuration's rate (for the alternating schedule: Adam at the E-step and M-step rates).
    /// The training set goes to the device whole when it fits `dataBudget` bytes (default: the
    /// backend's largest buffer and half its memory); otherwise it stays on the host and is
    /// streamed in shards of whole batches (see `DataShards`), with the same results.
    ///
    /// With a `group` of N processes, each step takes a global batch of N × `batchSize`
    /// examples; this process computes the gradients of its `batchSize` of them, the group sums
    /// them (scaled by 1/N: the mean over the global batch), and every process takes the same
    /// optimizer step. The sampled z of each example is that of its place in the global batch,
    /// so N processes follow one process with an N-times larger batch, up to float rounding.
    public init(model architecture: any VAEArchitecture, training: TrainingConfiguration, data: Dataset, backend: any Backend,
                optimizer: (any Optimizer)? = nil, dataBudget: Int? = nil, group: (any ProcessGroup)? = nil) throws {
        guard data.count > 0 else { throw DataError.empty(path: "the training set") }
        guard data.exampleSize == architecture.exampleSize else {
            throw DataError.inputSizeMismatch(dataSize: data.exampleSize, modelSize: architecture.exampleSize)
        }
        try training.validate(trainingExamples: data.count)
        let ranks = group?.size ?? 1
        if training.batchSize * ranks > data.count {
            throw ConfigurationError.invalid("--batch-size", "\(training.batchSize)", "at most \(data.count / ranks): the global batch of \(ranks) processes × --batch-size must not exceed the \(data.count) training examples")
        }
        self.group = group
        let limits = backend.memoryLimits
        let budget = dataBudget ?? min(limits.maxBufferBytes, limits.totalBytes / 2)
        // 8-bit data goes to the device as bytes (a quarter of the floats' memory) when it fits whole.
        let bytes = BytePalette(data.images)
        let dataBytes = data.count * (data.exampleSize * (bytes == nil ? 4 : 1) + 4)
        shards = dataBytes <= budget ? nil
            : DataShards(values: data.images, exampleSize: data.exampleSize,
                         rows: try DataShards.rows(budget: budget, exampleSize: data.exampleSize, batchSize: training.batchSize * ranks, examples: data.count))
        let deviceRows = shards?.rows ?? data.count
        if let configuration = architecture as? ModelConfiguration {
            try configuration.validate()
            // The budget's estimate is the MLP's; other models are checked by the executor as it allocates.
            if configuration.architecture == .mlp {
                try MemoryBudget.checkTraining(model: configuration, training: training, examples: deviceRows, limits: [backend.memoryLimits, .host])
            }
        }
        self.training = training
        examples = data.count
        self.data = data.identity
        let g = graph
        model = try VariationalAutoencoder(architecture, in: g)
        order = try g.input("data.order", Shape(deviceRows), .int32)
        let device = try DeviceTable(in: g, rows: deviceRows, exampleSize: data.exampleSize, bytes: shards == nil ? bytes : nil,
                                     order: order, batch: training.batchSize)
        table = device.table
        let x = device.x
        (terms, loss) = try model.negativeELBO(x, in: g, beta: training.beta, kl: training.kl, samples: training.samples, seed: training.seed)
        lossSum = try g.state("metrics.loss_sum", .scalar)
        // p ← p − (−1)·loss: SGD with rate −1 adds the step's loss to the running sum in place.
        let accumulate = try g.update(.sgd(learningRate: -1), [lossSum, loss])
        let parameters = model.parameters
        let gradients = try g.gradients(of: loss, with: parameters)
        let encoderCount = model.encoderParameters.count
        // Each entry: the parameters one part of the step updates, and with what.
        let schedule: [(Range<Int>, any Optimizer)]
        switch training.schedule {
        case .joint:
            schedule = [(0..<parameters.count, optimizer ?? Adam(learningRate: training.learningRate))]
        case .alternating:
            schedule = [(0..<encoderCount, optimizer ?? Adam(learningRate: training.encoderLearningRate ?? training.learningRate)),
                        (encoderCount..<parameters.count, optimizer ?? Adam(learningRate: training.decoderLearningRate ?? training.learningRate))]
        }
        // With a group, the optimizer reads the summed gradients from inputs the host fills.
        let received: [[Graph.Tensor]]? = group == nil ? nil : try schedule.map { range, _ in
            try range.map { try g.input("gradient." + g.name(parameters[$0]), g.shape(parameters[$0])) }
        }
        var updates: [[Graph.Update]] = []
        for (i, (range, optimizer)) in schedule.enumerated() {
            updates.append(try optimizer.updates(Array(parameters[range]), gradients: received?[i] ?? Array(gradients[range]), in: g))
        }
        let executor = try Executor(graph: g, backend: backend, seed: training.seed)
        let (loss, terms) = (loss, terms)
        parts = try schedule.enumerated().map { i, part in
            let outputs = i == 0 ? [loss, terms] : []
            guard let received else {
                return StepPart(plan: try executor.compile(outputs: outputs, updates: updates[i] + (i == 0 ? [accumulate] : [])), exchange: nil)
            }
            let computed = Array(gradients[part.0])
            return StepPart(plan: try executor.compile(outputs: outputs + computed, updates: i == 0 ? [accumulate] : []),
                            exchange: .init(gradients: computed, received: received[i], update: try executor.compile(outputs: [], updates: updates[i])))
        }
        self.executor = executor
        if shards == nil {
            try device.upload(data.images, to: executor)
        } else {
            try executor.setValue((0..<deviceRows).map { Int32($0) }, for: order)  // a shard is stored in batch order
        }
    }

    /// Peak bytes of the step's computed tensors, and their total without buffer reuse.
    public var memory: (peak: Int, naive: Int) { (plans.map(\.peakBytes).max() ?? 0, plans.map(\.naiveBytes).max() ?? 0) }

    /// Where this process's rows sit in the global batch (nil for one process).
    var shard: BatchShard? {
        guard let group, group.size > 1 else { return nil }
        return BatchShard(first: group.rank * training.batchSize, rows: training.batchSize, globalRows: globalBatchSize)
    }

    /// Runs (the rest of) the current epoch and returns its mean training loss (nats per
    /// example). `progress` gets the step within the epoch and the latest loss every
    /// `reportEvery` steps. When `shouldStop` turns true the epoch pauses after the current step
    /// (`stepInEpoch` tells where; a checkpoint then resumes it exactly) and the mean so far is returned.
    @discardableResult
    /// Per-op seconds of one training step (all its plans), from `runs` steps run op by op with a
    /// wait after each (`Executor.profile`). The steps train the model like any other steps.
    public func profileStep(runs: Int = 10) throws -> [OpTime] {
        var totals: [String: OpTime] = [:]
        for plan in plans {
            for t in try executor.profile(plan, context: RunContext(step: step, cursor: 0), runs: runs) {
                totals[t.name, default: OpTime(name: t.name, seconds: 0, count: 0)].seconds += t.seconds
                totals[t.name, default: OpTime(name: t.name, seconds: 0, count: 0)].count += t.count
            }
        }
        return totals.values.sorted { $0.seconds > $1.seconds }
    }

    public func trainEpoch(reportEvery: Int = 0, shouldStop: () -> Bool = { false },
                           progress: (Int, Float) -> Void = { _, _ in }) throws -> Float {
        let permutation = Shuffle.permutation(count: examples, seed: training.seed, epoch: epoch)
        if shards == nil { try executor.setValue(permutation.map { Int32($0) }, for: order) }
        if stepInEpoch == 0 { try executor.setValue([Float(0)], for: lossSum) }
        let first = stepInEpoch
        let mine = (group?.rank ?? 0) * training.batchSize  // this process's rows of each global batch
        for s in stepInEpoch..<stepsPerEpoch {
            var cursor = s * globalBatchSize + mine
            if let shards {
                let perShard = shards.rows / globalBatchSize, k = s / perShard, used = stepsPerEpoch * globalBatchSize
                if s == first || s % perShard == 0 {
                    try executor.setValue(shards.take(k, epoch: epoch, order: permutation, used: used), for: table)
                    if (k + 1) * perShard < stepsPerEpoch { shards.prefetch(k + 1, epoch: epoch, order: permutation, used: used) }
                }
                cursor = (s - k * perShard) * globalBatchSize + mine
            }
            let context = RunContext(step: step, cursor: cursor, shard: shard)
            var stopAgreed = false
            for part in parts {
                try executor.run(part.plan, context: context)
                if part.exchange != nil {
                    stopAgreed = try exchange(part, context: context, stop: part === parts[0] && shouldStop()) || stopAgreed
                }
            }
            step += 1
            stepInEpoch = s + 1
            if reportEvery > 0, (s + 1) % reportEvery == 0 || s + 1 == stepsPerEpoch {
                let value = try executor.value(of: loss, in: plans[0])[0]
                guard value.isFinite else { throw try nonFinite(value) }
                progress(s + 1, value)
            }
            if stepInEpoch < stepsPerEpoch && (group == nil ? shouldStop() : stopAgreed) {
                return try meanLoss(steps: stepInEpoch)
            }
        }
        let total = try meanLoss(steps: stepsPerEpoch)
        guard total.isFinite else { throw try nonFinite(total, during: true) }
        try checkReplicas()
        epoch += 1
        stepInEpoch = 0
        return total
    }

    /// The error for a loss that is NaN or infinite, naming the term of the last step that went bad.
    private func nonFinite(_ value: Float, during: Bool = false) throws -> TrainingError {
        let t = try executor.value(of: terms, in: plans[0])
        let bad = stride(from: 0, to: t.count, by: 2).first { !t[$0].isFinite || !t[$0 + 1].isFinite }
        var detail = "the loss (−ELBO) became \(value)"
        if let b = bad {
            let (part, v) = t[b].isFinite ? ("KL term", t[b + 1]) : ("reconstruction term", t[b])
            detail += ": the \(part) of example \(b / 2) of the batch is \(v)"
        }
        if during { detail += " (between the progress reports of epoch \(epoch + 1))" }
        return .nonFinite(step: step - 1, detail: detail)
    }

    /// Parameters, Adam moments and the running loss sum of the epoch in flight.
    private var checkpointed: [(name: String, tensor: Graph.Tensor)] { graph.trainedTensors }

    /// Every parameter's values by name.
    public func parameterValues() throws -> [String: [Float]] {
        var values: [String: [Float]] = [:]
        for p in model.parameters { values[graph.name(p)] = try executor.value(of: p) }
        return values
    }

    /// Parameters, Adam moments and the position in training, with `metadata` added.
    public func checkpoint(metadata: [String: String] = [:]) throws -> Checkpoint {
        var c = Checkpoint(metadata: metadata)
        c.metadata["format"] = CheckpointFormat.identifier
        c.metadata["model"] = model.architecture.identity
        c.metadata["training"] = try CheckpointFormat.encode(training)
        c.metadata["epoch"] = String(epoch)
        c.metadata["step"] = String(step)
        c.metadata["epoch_step"] = String(stepInEpoch)
        c.metadata["global_batch"] = String(globalBatchSize)
        c.metadata["data"] = try CheckpointFormat.encode(data)
        for (name, t) in checkpointed {
            c.set(name, shape: graph.shape(t).dimensions, values: try executor.value(of: t))
        }
        return c
    }

    /// Continues from a checkpoint of the same architecture and training set: parameters, Adam
    /// moments, epoch and step. Every tensor must be finite and every position field a whole
    /// number consistent with the others; nothing is changed when the checkpoint is refused.
    public func restore(_ checkpoint: Checkpoint, path: String) throws {
        try CheckpointFormat.checkArchitecture(checkpoint, matches: model.architecture, path: path)
        if let text = checkpoint.metadata["data"] {
            guard let stored = try? JSONDecoder().decode(DataIdentity.self, from: Data(text.utf8)) else {
                throw CheckpointError.badMetadata(path: path, field: "data", value: text, expected: "the training set's size and checksum (JSON)")
            }
            guard stored == data else {
                throw CheckpointError.configurationMismatch(path: path, detail: "it was trained on another training set (\(stored)) than this command selects (\(data)); use the run's --data, --limit and --exclude-classes")
            }
        }
        let stored = try CheckpointFormat.position(checkpoint, path: path)
        func required(_ value: Int?, _ field: String) throws -> Int {
            guard let value else { throw CheckpointError.badMetadata(path: path, field: field, value: "(missing)", expected: "a whole number") }
            return value
        }
        let epochs = try required(stored.epoch, "epoch")
        let inEpoch = try required(stored.epochStep, "epoch_step")
        let steps = try required(stored.step, "step")
        guard inEpoch < stepsPerEpoch else {
            throw CheckpointError.configurationMismatch(path: path, detail: "it stopped at step \(inEpoch) of an epoch that now has \(stepsPerEpoch) steps (was the data set changed?)")
        }
        // A run may go on with another number of processes (another global batch) from an epoch's end.
        let storedBatch = checkpoint.metadata["global_batch"].map { Int($0) } ?? training.batchSize
        guard let storedBatch, storedBatch > 0 else {
            throw CheckpointError.badMetadata(path: path, field: "global_batch", value: checkpoint.metadata["global_batch"] ?? "", expected: "a positive whole number")
        }
        if storedBatch != globalBatchSize && inEpoch != 0 {
            throw CheckpointError.configurationMismatch(path: path, detail: "it stopped in the middle of an epoch with a global batch of \(storedBatch) examples, and this run's is \(globalBatchSize) (\(group?.size ?? 1) process\((group?.size ?? 1) == 1 ? "" : "es") × --batch-size \(training.batchSize)); finish the epoch with the number of processes it was started with")
        }
        guard storedBatch != globalBatchSize || epochs.multipliedReportingOverflow(by: stepsPerEpoch).partialValue + inEpoch == steps else {
            throw CheckpointError.badMetadata(path: path, field: "step", value: String(steps),
                                              expected: "\(epochs) epochs × \(stepsPerEpoch) steps + \(inEpoch) = \(epochs * stepsPerEpoch + inEpoch)")
        }
        var values: [(Graph.Tensor, [Float])] = []
        for (name, t) in checkpointed {
            values.append((t, try CheckpointFormat.tensor(checkpoint, name, shape: graph.shape(t), path: path)))
        }
        for (t, v) in values { try executor.setValue(v, for: t) }
        epoch = epochs
        step = UInt64(steps)
        stepInEpoch = inEpoch
    }
}

/// The shuffled order of an epoch: Fisher–Yates driven by Philox keyed by (seed, epoch), so a
/// resumed run sees the same batches as an uninterrupted one.
public enum Shuffle {
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var p = Array(0..<count)
        guard count > 1 else { return p }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let r = Philox.block(counter: (UInt32(truncatingIfNeeded: i), UInt32(truncatingIfNeeded: epoch), 0x5348_5546, 0),
                                 key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
            let j = Int((UInt64(r.0) << 32 | UInt64(r.1)) % UInt64(i + 1))
            p.swapAt(i, j)
        }
        return p
    }
}
