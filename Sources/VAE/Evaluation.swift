import Engine
import Foundation

/// Per-example results of an evaluation pass over a data set, in nats.
public struct ExampleScores: Sendable {
    /// −log p(x|z) + KL with one sampled z (the −ELBO estimate), per example.
    public var negativeELBO: [Double]
    public var reconstruction: [Double]
    public var kl: [Double]
}

extension InferenceSession {
    /// The most importance samples per example (the work grows linearly in them; progress is
    /// reported within each example).
    public static let maxImportanceSamples = 1_000_000_000

    /// Builds a graph over a data set held on the device: `table` [N, D], an index list padded
    /// to whole batches, and `x`, the batch gathered at the run's cursor.
    func datasetGraph(_ data: Dataset, batch: Int) throws -> (Graph, VariationalAutoencoder, x: Graph.Tensor, setUp: (Executor) throws -> Void) {
        guard data.count > 0 else { throw DataError.empty(path: "the evaluation set") }
        guard data.exampleSize == architecture.exampleSize else {
            throw DataError.inputSizeMismatch(dataSize: data.exampleSize, modelSize: architecture.exampleSize)
        }
        let g = Graph()
        let model = try VariationalAutoencoder(architecture, in: g)
        let batches = (data.count + batch - 1) / batch
        let order = try g.input("data.order", Shape(batches * batch), .int32)
        let device = try DeviceTable(in: g, rows: data.count, exampleSize: data.exampleSize, bytes: BytePalette(data.images), order: order, batch: batch)
        return (g, model, device.x, { executor in
            try device.upload(data.images, to: executor)
            // The last batch is padded with example 0; callers ignore the padding rows.
            try executor.setValue((0..<batches * batch).map { Int32($0 < data.count ? $0 : 0) }, for: order)
        })
    }

    /// Runs `plan` once per batch and hands each batch's first `valid` rows of `output` to `body`.
    /// The run's step is the batch's first row in the data set, so the noise of the sampled z
    /// (keyed by seed, step and element) differs from batch to batch and stays reproducible.
    func forEachBatch(_ data: Dataset, batch: Int, examples: Range<Int>? = nil, executor: Executor, plan: Plan, output: Graph.Tensor,
                      _ body: (_ start: Int, _ valid: Int, _ values: [Float]) -> Void) throws {
        let range = examples ?? 0..<data.count
        for start in stride(from: range.lowerBound, to: range.upperBound, by: batch) {
            try executor.run(plan, context: RunContext(step: UInt64(start), cursor: start))
            body(start, min(batch, range.upperBound - start), try executor.value(of: output, in: plan))
        }
    }

    /// Per-example −ELBO (one z each, drawn with `seed`), or with z = μ when `meanLatent` is set
    /// (then "KL" is still the closed-form KL of q(z|x)). With `examples` (starting at a multiple
    /// of the batch, `min(batchSize, data.count)`), only those examples, with the same noise
    /// they get in a pass over all of `data`.
    public func exampleScores(_ data: Dataset, batchSize: Int = 500, seed: UInt64 = 0, meanLatent: Bool = false,
                              examples: Range<Int>? = nil) throws -> ExampleScores {
        let batch = min(batchSize, data.count)
        let (g, model, x, setUp) = try datasetGraph(data, batch: batch)
        let terms: Graph.Tensor
        if meanLatent {
            let (mu, lv) = try model.encode(x, in: g)
            terms = try model.loss(x, decoded: try model.decode(mu, in: g), mean: mu, logVariance: lv,
                                   objective: VAEObjective(likelihood: architecture.decoderLikelihood), in: g).terms
        } else {
            terms = try model.negativeELBO(x, in: g, seed: seed).terms
        }
        let executor = try makeExecutor(g)
        try setUp(executor)
        let plan = try executor.compile(outputs: [terms])
        var scores = ExampleScores(negativeELBO: [], reconstruction: [], kl: [])
        try forEachBatch(data, batch: batch, examples: examples, executor: executor, plan: plan, output: terms) { _, valid, values in
            for r in 0..<valid {
                scores.reconstruction.append(Double(values[2 * r]))
                scores.kl.append(Double(values[2 * r + 1]))
                scores.negativeELBO.append(Double(values[2 * r] + values[2 * r + 1]))
            }
        }
        return scores
    }

    /// −ELBO averaged over `data`, in nats per example. With a `group`, each process scores
    /// its share of whole batches and the sums are combined: the same numbers as one process
    /// (up to the order of the float64 sums).
    public func negativeELBO(_ data: Dataset, batchSize: Int = 500, seed: UInt64 = 0, meanLatent: Bool = false,
                             group: (any ProcessGroup)? = nil) throws -> ELBOReport {
        let share = group?.share(of: data.count, unit: min(batchSize, data.count))
        let s = try exampleScores(data, batchSize: batchSize, seed: seed, meanLatent: meanLatent, examples: share)
        var sums = [s.negativeELBO.reduce(0, +), s.reconstruction.reduce(0, +), s.kl.reduce(0, +), Double(s.negativeELBO.count)]
        try group?.sum(&sums, what: "the −ELBO sums")
        return ELBOReport(negativeELBO: sums[0] / sums[3], reconstruction: sums[1] / sums[3], kl: sums[2] / sums[3])
    }

    /// The importance-weighted estimate of −log p(x) per example with `samples` draws of z from
    /// q(z|x): −(logsumexp_k [log p(x|z_k) + log p(z_k) − log q(z_k|x)] − log K).
    ///
    /// Each run takes one example and `chunk` samples: the encoder's μ and log σ² are repeated
    /// over the chunk, the fused loss (Monte-Carlo KL) gives −log w_k per sample, and a
    /// log-sum-exp on the device reduces them; chunks are combined on the host in float64.
    /// `progress` gets the examples done so far (fractional within an example) after each chunk.
    /// Draws per run of the importance-weighted estimate: rows of one batch.
    public static let importanceChunk = 1000

    /// With `examples`, only those (indexed in `data`; the draws are those of a pass over all).
    public func importanceWeightedNegativeLogLikelihood(_ data: Dataset, samples: Int, chunk: Int = importanceChunk, seed: UInt64 = 0,
                                                        examples: Range<Int>? = nil, progress: (Double) -> Void = { _ in }) throws -> [Double] {
        guard samples > 0, samples <= Self.maxImportanceSamples else {
            throw ConfigurationError.invalid("--importance-samples", "\(samples)", "a number of samples from 1 to \(Self.maxImportanceSamples)")
        }
        let k = min(chunk, samples)
        let (g, model, x, setUp) = try datasetGraph(data, batch: 1)
        let (mu, lv) = try model.encode(x, in: g)
        let (mus, lvs, xs) = try (g.repeatRows(mu, k), g.repeatRows(lv, k), g.repeatRows(x, k))
        let z = try g.reparameterize(mean: mus, logVariance: lvs, seed: seed ^ 0x1_3A5E)
        let terms = try model.loss(xs, decoded: try model.decode(z, in: g), mean: mus, logVariance: lvs, z: z,
                                   objective: VAEObjective(likelihood: architecture.decoderLikelihood, kl: .monteCarlo), in: g).terms
        // log w_k = −(reconstruction_k + KL_k): a [k, 2]·[2, 1] product with −1s.
        let logWeights = try g.matmul(terms, try g.constant([-1, -1], Shape(2, 1)))
        let total = try g.apply(.reduce(.logSumExp, .all), [logWeights])[0]
        let executor = try makeExecutor(g)
        try setUp(executor)
        let plan = try executor.compile(outputs: [total])
        let chunks = (samples + k - 1) / k
        var result: [Double] = []
        let range = examples ?? 0..<data.count
        for i in range {
            let done = Double(i - range.lowerBound)
            var parts: [Double] = []
            for c in 0..<chunks {
                // The step keys the noise: every (example, chunk) draws fresh samples.
                try executor.run(plan, context: RunContext(step: UInt64(i) * UInt64(chunks) + UInt64(c), cursor: i))
                parts.append(Double(try executor.value(of: total, in: plan)[0]))
                if c + 1 < chunks { progress(done + Double(c + 1) / Double(chunks)) }
            }
            // The last chunk may hold more samples than asked; it is still an unbiased average.
            result.append(-(logSumExp(parts) - log(Double(chunks) * Double(k))))
            progress(done + 1)
        }
        return result
    }

    /// Latent means and log-variances of every example, each [N, latent] row-major.
    public func encode(_ data: Dataset, batchSize: Int = 500) throws -> (mean: [Float], logVariance: [Float]) {
        let batch = min(batchSize, data.count)
        let (g, model, x, setUp) = try datasetGraph(data, batch: batch)
        let (mu, lv) = try model.encode(x, in: g)
        let executor = try makeExecutor(g)
        try setUp(executor)
        let plan = try executor.compile(outputs: [mu, lv])
        let d = architecture.latentSize
        var means: [Float] = [], logVariances: [Float] = []
        for start in stride(from: 0, to: data.count, by: batch) {
            try executor.run(plan, context: RunContext(cursor: start))
            let valid = min(batch, data.count - start) * d
            means += try executor.value(of: mu, in: plan).prefix(valid)
            logVariances += try executor.value(of: lv, in: plan).prefix(valid)
        }
        return (means, logVariances)
    }
}

/// log Σ exp(x), stable in float64.
public func logSumExp(_ x: [Double]) -> Double {
    guard let top = x.max(), top.isFinite else { return x.max() ?? -.infinity }
    return top + log(x.reduce(0) { $0 + exp($1 - top) })
}

/// Area under the ROC curve of `scores` for telling `positive` examples from the rest (the
/// Mann–Whitney statistic, ties counted half). 1: perfect; 0.5: chance.
public func rocAUC(scores: [Double], positive: [Bool]) -> Double? {
    let p = positive.filter { $0 }.count, n = positive.count - p
    guard p > 0, n > 0 else { return nil }
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSum = 0.0
    var i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        let averageRank = Double(i + j) / 2 + 1
        for k in i...j where positive[order[k]] { rankSum += averageRank }
        i = j + 1
    }
    return (rankSum - Double(p * (p + 1)) / 2) / Double(p * n)
}
