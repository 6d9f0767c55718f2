import Dispatch
import Foundation

/// A training set kept on the host and streamed to the device in shards, for data larger than
/// the device (or a `--device-memory` budget). Shard k of an epoch holds the examples of the
/// epoch's shuffled order from position k·rows on, gathered into one contiguous block, so each
/// step sees exactly the batch it would see with the whole set on the device: the loss curve
/// equals the in-memory one. While the device runs shard k's steps, a background thread
/// gathers shard k + 1, so only the upload itself sits between shards.
final class DataShards: @unchecked Sendable {
    let values: [Float]
    let exampleSize: Int
    /// Examples per shard, a multiple of the batch size.
    let rows: Int
    private let queue = DispatchQueue(label: "swift-vae.data-shards")
    private let lock = NSLock()
    private var prepared: (epoch: Int, shard: Int, values: [Float])?
    private var inFlight: (epoch: Int, shard: Int, done: DispatchSemaphore)?

    init(values: [Float], exampleSize: Int, rows: Int) {
        self.values = values
        self.exampleSize = exampleSize
        self.rows = rows
    }

    /// The shard's examples (positions k·rows ..< k·rows + rows of `order`, those below
    /// `used`), zero-padded to `rows` examples.
    func gather(_ k: Int, order: [Int], used: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * exampleSize)
        let start = k * rows, end = min(used, start + rows)
        guard start < end else { return out }
        out.withUnsafeMutableBufferPointer { dst in
            values.withUnsafeBufferPointer { src in
                for (r, i) in order[start..<end].enumerated() {
                    let from = src.baseAddress! + i * exampleSize
                    (dst.baseAddress! + r * exampleSize).update(from: from, count: exampleSize)
                }
            }
        }
        return out
    }

    /// Starts gathering shard k of `epoch` on the background thread.
    func prefetch(_ k: Int, epoch: Int, order: [Int], used: Int) {
        let done = DispatchSemaphore(value: 0)
        lock.withLock { inFlight = (epoch, k, done) }
        queue.async { [self] in
            let v = gather(k, order: order, used: used)
            lock.withLock { prepared = (epoch, k, v) }
            done.signal()
        }
    }

    /// Shard k of `epoch`: the prefetched one when it is that shard (waiting for it), else gathered now.
    func take(_ k: Int, epoch: Int, order: [Int], used: Int) -> [Float] {
        let waiting = lock.withLock { () -> DispatchSemaphore? in
            guard let f = inFlight, f.epoch == epoch, f.shard == k else { return nil }
            inFlight = nil
            return f.done
        }
        if let waiting {
            waiting.wait()
            if let p = lock.withLock({ prepared }), p.epoch == epoch, p.shard == k { return p.values }
        }
        return gather(k, order: order, used: used)
    }

    /// Examples per shard for `budget` bytes of device memory: whole batches, at least one.
    static func rows(budget: Int, exampleSize: Int, batchSize: Int, examples: Int) throws -> Int {
        let perExample = exampleSize * 4 + 4  // the values and their int32 place in the order list
        let batches = budget / (perExample * batchSize)
        guard batches >= 1 else {
            throw ConfigurationError.invalid("--device-memory", "\(budget) bytes",
                                             "at least one batch of training data: \(perExample * batchSize) bytes for \(batchSize) examples of \(exampleSize) values")
        }
        return min(batches, max(1, examples / batchSize)) * batchSize
    }
}
