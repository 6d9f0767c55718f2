import CPUBackend
import CPUPeak
import Dispatch
import Engine
import Foundation
import VAE

/// Speed measurements shared by `vae bench` and the Benchmarks package. Each runs its work
/// a few times to warm up, then times `repetitions` runs and reports the median and minimum.
public struct Timing: Sendable {
    public var median: Double
    public var minimum: Double

    /// Times `body` (seconds per call) after `warmup` calls.
    public static func measure(repetitions: Int = 7, warmup: Int = 2, _ body: () throws -> Void) rethrows -> Timing {
        for _ in 0..<warmup { try body() }
        var samples: [Double] = []
        for _ in 0..<repetitions {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        samples.sort()
        return Timing(median: samples[samples.count / 2], minimum: samples[0])
    }
}

/// One op on fixed random inputs, ready to be run repeatedly on a backend.
/// Waits until OpenBLAS's own worker threads, which spin (sched_yield) for about 0.1 s after a
/// call of the multi-threaded reference, have gone to sleep, so they do not take cores from
/// the measurement that follows.
func afterOpenBLASReference() { usleep(300_000) }

public struct OpBench {
    public let op: Op
    let backend: any Backend
    let inputs: [TensorBuffer]
    let outputs: [TensorBuffer]
    /// Bytes the op must read and write at least (for GB/s).
    public let bytes: Int

    public init(_ op: Op, inputs specs: [TensorSpec], on backend: any Backend) throws {
        self.op = op
        self.backend = backend
        let outSpecs = try op.outputSpecs(for: specs)
        inputs = try specs.enumerated().map { i, spec in
            let values = switch spec.dtype {
            case .int32: try backend.makeBuffer((0..<spec.count).map { Int32($0 % max(1, specs[0].shape.rows)) })
            case .uint8: try backend.makeBuffer((0..<spec.count).map { UInt8($0 % 256) })
            case .float32: try backend.makeBuffer(Philox.uniforms(count: spec.count, bound: 0.5, seed: 1, stream: UInt32(i)).map { $0 + 0.5 })
            }
            return TensorBuffer(values, spec)
        }
        outputs = try outSpecs.map { TensorBuffer(try backend.allocate(bytes: $0.byteCount), $0) }
        bytes = (specs + outSpecs).reduce(0) { $0 + $1.byteCount }
    }

    /// Seconds per op: `count` launches queued back to back, then one wait.
    public func time(count: Int = 20, repetitions: Int = 5) throws -> Timing {
        let t = try Timing.measure(repetitions: repetitions) {
            for _ in 0..<count { try backend.execute(op, inputs: inputs, outputs: outputs, context: RunContext()) }
            try backend.synchronize()
        }
        return Timing(median: t.median / Double(count), minimum: t.minimum / Double(count))
    }
}

/// The shapes of the default VAE's matrix products (M, N, K) and which operands are transposed.
public struct GEMMShape: Sendable, CustomStringConvertible {
    public var m, n, k: Int
    public var transposeA, transposeB: Bool

    public init(_ m: Int, _ n: Int, _ k: Int, _ transposeA: Bool = false, _ transposeB: Bool = false) {
        (self.m, self.n, self.k, self.transposeA, self.transposeB) = (m, n, k, transposeA, transposeB)
    }

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    public var layout: String { (transposeA ? "T" : "N") + (transposeB ? "T" : "N") }
    public var description: String { "\(layout) \(m)×\(n)×\(k)" }

    public var inputSpecs: [TensorSpec] {
        [TensorSpec(transposeA ? Shape(k, m) : Shape(m, k)), TensorSpec(transposeB ? Shape(n, k) : Shape(k, n))]
    }

    /// Forward x·Wᵀ (NT), backward dx = g·W (NN) and dW = gᵀ·x (TN) of 784-400-20 at batch 128,
    /// the decoder's products over a chunk of 1000 importance samples, and 1024³.
    public static let vae: [GEMMShape] = [
        GEMMShape(128, 400, 784, false, true), GEMMShape(128, 784, 400, false, true), GEMMShape(128, 40, 400, false, true),
        GEMMShape(128, 400, 20, false, true), GEMMShape(1000, 400, 20, false, true), GEMMShape(1000, 784, 400, false, true),
        GEMMShape(128, 400, 784), GEMMShape(128, 784, 400), GEMMShape(128, 400, 40),
        GEMMShape(400, 784, 128, true, false), GEMMShape(784, 400, 128, true, false), GEMMShape(40, 400, 128, true, false),
    ]
    public static let large = GEMMShape(1024, 1024, 1024)
}

/// The machine's single-precision peak in GFLOP/s: independent FMA chains with the widest
/// vector unit (see CPUPeak) on every core at once, best of three.
public func measurePeakGFLOPS(threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> Double {
    let iterations = 20_000_000
    let t = Timing.measure(repetitions: 3, warmup: 1) {
        DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = cpupeak_fma_loop(iterations) }
    }
    let flopsPerIteration = cpupeak_fma_loop(1)
    return Double(threads) * flopsPerIteration * Double(iterations) / t.minimum / 1e9
}

/// The vector instructions the peak measurement used.
public var peakInstructionSet: String { String(cString: cpupeak_isa()) }

/// `count` 28×28 examples of reproducible values in [0.5, 1).
func syntheticImages(_ count: Int, model: ModelConfiguration) -> Dataset {
    let images = Philox.uniforms(count: count * model.inputSize, bound: 0.5, seed: 3, stream: 0).map { $0 + 0.5 }
    return Dataset(images: images, labels: [Int](repeating: 0, count: count), exampleSize: model.inputSize, imageShape: (28, 28))
}

/// A freshly initialized trainer of `model` on `examples` synthetic examples in batches of `batch`.
func syntheticTrainer(on backend: any Backend, examples: Int, batch: Int, model: ModelConfiguration) throws -> Trainer {
    var training = TrainingConfiguration()
    training.batchSize = batch
    return try Trainer(model: model, training: training, data: syntheticImages(examples, model: model), backend: backend)
}

/// Samples per second of whole default-VAE training steps (forward, backward, Adam) on `backend`.
public func measureTrainingStep(on backend: any Backend, batch: Int = 128, steps: Int = 40, model: ModelConfiguration = ModelConfiguration()) throws -> Timing {
    let trainer = try syntheticTrainer(on: backend, examples: batch * steps, batch: batch, model: model)
    let t = try Timing.measure(repetitions: 3, warmup: 1) { try trainer.trainEpoch() }
    return Timing(median: t.median / Double(steps), minimum: t.minimum / Double(steps))
}

/// Seconds per op kind of one default training step on `backend` (see `Executor.profile`).
public func profileTrainingStep(on backend: any Backend, batch: Int = 128, runs: Int = 20,
                                model: ModelConfiguration = ModelConfiguration()) throws -> [OpTime] {
    let trainer = try syntheticTrainer(on: backend, examples: batch, batch: batch, model: model)
    _ = try trainer.profileStep(runs: 2)  // warm-up
    return try trainer.profileStep(runs: runs)
}

/// Prints the 12 op kinds that take longest in `ops` (from `profileTrainingStep`), with counts,
/// times and shares of the step.
func reportOpProfile(_ ops: [OpTime], say: (String) -> Void) {
    let total = ops.map(\.seconds).reduce(0, +)
    say(String(format: "the step op by op (a wait after each op: %.2f ms in all):", total * 1e3))
    for t in ops.prefix(12) {
        let name = t.name.count < 40 ? t.name.padding(toLength: 40, withPad: " ", startingAt: 0) : t.name
        say("  " + name + String(format: " %3d × %8.1f µs  %5.1f%%", t.count, t.seconds * 1e6, 100 * t.seconds / total))
    }
}

/// Seconds per example of the importance-weighted −log p(x) with `samples` draws (default VAE,
/// freshly initialized), beside the time its decoder products alone take on `reference`
/// (OpenBLAS): the draws are rows of one batch of `InferenceSession`'s chunk size, so the
/// products are [chunk, latent]·[hidden, latent]ᵀ and [chunk, hidden]·[D, hidden]ᵀ per chunk.
public func measureImportanceWeighted(on backend: any Backend, reference: any Backend, examples: Int = 2,
                                      samples: Int = 5000) throws -> (perExample: Timing, gemmBound: Double) {
    let model = ModelConfiguration()
    let data = syntheticImages(examples, model: model)
    let parameters = try syntheticTrainer(on: reference, examples: examples, batch: examples, model: model).parameterValues()
    let session = try InferenceSession(architecture: model, parameters: parameters, backend: backend)
    let t = try Timing.measure(repetitions: 3, warmup: 1) {
        _ = try session.importanceWeightedNegativeLogLikelihood(data, samples: samples)
    }
    let chunk = min(InferenceSession.importanceChunk, samples), hidden = model.hiddenSizes.last ?? model.latentSize
    let products = try [(model.latentSize, hidden), (hidden, model.inputSize)].map { k, n in
        try OpBench(.matmul(transposeA: false, transposeB: true), inputs: [TensorSpec(Shape(chunk, k)), TensorSpec(Shape(n, k))],
                    on: reference).time(count: 5).median
    }
    let chunks = Double((samples + chunk - 1) / chunk)
    return (Timing(median: t.median / Double(examples), minimum: t.minimum / Double(examples)), chunks * products.reduce(0, +))
}

/// FLOPs of one training sample: the forward products, then two backward products per layer
/// (dx and dW) except dx of the first layer (the data needs no gradient). 784-400-20: ≈ 3.3 MFLOP.
public func trainingFLOPsPerSample(_ m: ModelConfiguration = ModelConfiguration()) -> Double {
    let widths = [m.inputSize] + m.hiddenSizes
    var macs = 0
    for i in 0..<m.hiddenSizes.count { macs += widths[i] * widths[i + 1] * 2 }  // encoder layer and its mirrored decoder layer
    macs += widths[widths.count - 1] * m.latentSize * 3  // μ, log σ² and the decoder's first layer
    let firstLayer = m.inputSize * (m.hiddenSizes.first ?? m.latentSize * 2)
    return 2 * Double(3 * macs - firstLayer)
}

/// Microseconds per enqueued kernel: a one-element op queued `count` times, then one wait.
public func measureLaunchOverhead(on backend: any Backend, count: Int = 2000) throws -> Double {
    let bench = try OpBench(.add, inputs: [TensorSpec(Shape(1)), TensorSpec(Shape(1))], on: backend)
    return try bench.time(count: count, repetitions: 5).median * 1e6
}

/// A backend that does nothing: running a plan on it leaves only the executor's own work.
final class NullBackend: Backend {
    final class Buffer: DeviceBuffer {
        let byteCount: Int
        init(_ bytes: Int) { byteCount = bytes }
    }

    var deviceDescription: String { "none" }
    var memoryLimits: MemoryLimits { .host }
    func allocate(bytes: Int) throws -> any DeviceBuffer { Buffer(bytes) }
    func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, offset: Int) throws {}
    func read(_ buffer: any DeviceBuffer, offset: Int, into bytes: UnsafeMutableRawBufferPointer) throws {
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }
    func execute(_ op: Op, inputs: [TensorBuffer], outputs: [TensorBuffer], context: RunContext) throws {}
    func synchronize() throws {}
}

/// Seconds of executor and trainer bookkeeping per default training step (every op dispatched
/// to a backend that does nothing).
public func measureExecutorOverhead(steps: Int = 200) throws -> Timing {
    try measureTrainingStep(on: NullBackend(), steps: steps)
}
