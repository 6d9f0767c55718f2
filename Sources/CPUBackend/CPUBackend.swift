import CBLAS
import CPUVector
import Dispatch
import Engine

/// Host memory, 64-byte aligned.
final class CPUBuffer: DeviceBuffer {
    let byteCount: Int
    let raw: UnsafeMutableRawPointer

    /// Nil when the system refuses the memory.
    init?(byteCount: Int) {
        var pointer: UnsafeMutableRawPointer?
        guard posix_memalign(&pointer, 64, max(byteCount, 4)) == 0, let pointer else { return nil }
        self.byteCount = byteCount
        raw = pointer
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
    }

    deinit { free(raw) }

    var floats: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
    var ints: UnsafeMutablePointer<Int32> { raw.assumingMemoryBound(to: Int32.self) }
    var bytes: UnsafeMutablePointer<UInt8> { raw.assumingMemoryBound(to: UInt8.self) }
}

/// The reference backend: OpenBLAS for matrix products, Swift loops split across the cores for
/// the rest. Each op here is the readable definition its OpenCL kernel (Kernels/) must match.
public final class CPUBackend: Backend {
    /// Cheap element-wise loops below this many elements run on one thread: handing a chunk to
    /// a spinning worker (`WorkerPool`) costs about a µs, more than such a loop saves. (With
    /// sleeping workers the hand-off cost tens of µs and these grains were 8× larger; measured
    /// on the default VAE: 1.55 → 1.19 s per epoch with the pool and these grains.)
    let parallelGrain = 16_384
    /// The same for loops whose elements cost a transcendental function or more (loss, Adam, sampling).
    let expensiveGrain = 2_048
    /// The same for GEMMs, in multiply-adds.
    let gemmGrain = 250_000
    let threads: Int
    /// Scratch memory of the convolutions (patches, transposed copies), by slot; grown on demand.
    private var scratchSlots: [Int: CPUBuffer] = [:]

    /// Whether `matmul` cuts a product into one single-threaded OpenBLAS call per thread (the
    /// default) or leaves the threading to OpenBLAS (the reference `vae bench` compares with).
    let splitsProducts: Bool

    /// The instruction set of the backend's vector loops (Bernoulli loss and gradient, Adam,
    /// `linear`'s bias and ReLU): "avx512f", "avx2+fma" or "sse2", the widest this CPU runs.
    public static var vectorInstructionSet: String { String(cString: vector_kernels_chosen().pointee.isa) }

    /// - Parameters:
    ///   - threads: cores to use; nil for all of them.
    ///   - splitsProducts: false leaves GEMM threading to OpenBLAS (for benchmarks).
    public init(threads: Int? = nil, splitsProducts: Bool = true) {
        let n = threads ?? ProcessInfoCores.count
        self.threads = max(1, n)
        self.splitsProducts = splitsProducts
    }

    public var deviceDescription: String { "CPU (\(threads) threads, OpenBLAS \(OpenBLASCore.current))" }
    public var memoryLimits: MemoryLimits { .host }

    public func allocate(bytes: Int) throws -> any DeviceBuffer {
        guard bytes >= 0 else { throw BackendError.allocationFailed(bytes: bytes, detail: "negative size") }
        guard bytes <= memoryLimits.maxBufferBytes, let buffer = CPUBuffer(byteCount: bytes) else {
            throw BackendError.insufficientMemory(what: "a buffer of the CPU backend", bytes: bytes, limits: memoryLimits)
        }
        return buffer
    }

    func host(_ b: any DeviceBuffer) throws -> CPUBuffer {
        guard let h = b as? CPUBuffer else { throw BackendError.foreignBuffer(backend: "CPU") }
        return h
    }

    public func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, offset: Int) throws {
        let h = try host(buffer)
        try BackendError.checkRange("write", offset: offset, count: bytes.count, in: h)
        if let base = bytes.baseAddress { (h.raw + offset).copyMemory(from: base, byteCount: bytes.count) }
    }

    public func read(_ buffer: any DeviceBuffer, offset: Int, into bytes: UnsafeMutableRawBufferPointer) throws {
        let h = try host(buffer)
        try BackendError.checkRange("read", offset: offset, count: bytes.count, in: h)
        if let base = bytes.baseAddress { base.copyMemory(from: h.raw + offset, byteCount: bytes.count) }
    }

    public func synchronize() throws {}

    /// Scratch slot `slot` holding at least `count` floats (contents undefined).
    func scratch(_ slot: Int, count: Int) throws -> UnsafeMutablePointer<Float> {
        if let s = scratchSlots[slot], s.byteCount >= count * 4 { return s.floats }
        scratchSlots[slot] = nil
        let fresh = try host(allocate(bytes: count * 4))
        scratchSlots[slot] = fresh
        return fresh.floats
    }

    public func execute(_ op: Op, inputs: [TensorBuffer], outputs: [TensorBuffer], context: RunContext) throws {
        let x = try inputs.map { try host($0.buffer) }
        let y = try outputs.map { try host($0.buffer) }
        let s = inputs.map(\.spec.shape)
        switch op {
        case .linear(let act):
            linear(act, y: y[0].floats, x: x[0].floats, w: x[1].floats, b: x[2].floats, m: s[0].rows, n: s[1].rows, k: s[0].columns)
        case .matmul(let ta, let tb):
            let m = outputs[0].spec.shape.rows, n = outputs[0].spec.shape.columns
            let k = ta ? s[0].rows : s[0].columns
            matmul(c: y[0].floats, a: x[0].floats, b: x[1].floats, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
        case .activation(let act):
            activation(act, y: y[0].floats, x: x[0].floats, count: s[0].count)
        case .activationGradient(let act):
            activationGradient(act, dx: y[0].floats, y: x[0].floats, dy: x[1].floats, count: s[0].count)
        case .add:
            add(c: y[0].floats, a: x[0].floats, b: x[1].floats, count: s[0].count)
        case .productActivationGradient(let act, let accumulate):  // the ops in turn, as unfused
            let (m, n, k) = (s[0].rows, s[1].columns, s[0].columns)
            matmul(c: y[0].floats, a: x[0].floats, b: x[1].floats, m: m, n: n, k: k, transposeA: false, transposeB: false)
            if accumulate { add(c: y[0].floats, a: x[3].floats, b: y[0].floats, count: m * n) }
            activationGradient(act, dx: y[0].floats, y: x[2].floats, dy: y[0].floats, count: m * n)
        case .reshape:
            if y[0] !== x[0] { y[0].raw.copyMemory(from: x[0].raw, byteCount: inputs[0].spec.byteCount) }
        case .conv2d(let g, let act, let bias):
            try conv2d(g, act, y: y[0].floats, x: x[0].floats, weight: x[1].floats, bias: bias ? x[2].floats : nil,
                       input: ImageShape(s[0]), kernel: ImageShape(s[1]), output: ImageShape(outputs[0].spec.shape))
        case .convTranspose2d(let g, let act, let bias):
            try convTranspose2d(g, act, y: y[0].floats, x: x[0].floats, weight: x[1].floats, bias: bias ? x[2].floats : nil,
                                input: ImageShape(s[0]), kernel: ImageShape(s[1]), output: ImageShape(outputs[0].spec.shape))
        case .conv2dWeightGradient(let g, let kh, let kw):
            try conv2dWeightGradient(g, dw: y[0].floats, x: x[0].floats, dy: x[1].floats, input: ImageShape(s[0]),
                                     gradient: ImageShape(s[1]), kernelHeight: kh, kernelWidth: kw)
        case .reduce(let r, let axis):
            reduce(r, axis, y: y[0].floats, x: x[0].floats, shape: s[0])
        case .broadcast(let shape, let scale):
            broadcast(y: y[0].floats, x: x[0].floats, from: s[0].count, to: shape.count, scale: scale)
        case .randomNormal(let shape, let seed):
            randomNormal(y[0].floats, count: shape.count, seed: seed, step: context.step)
        case .reparameterize(let seed, let sample):
            reparameterize(z: y[0].floats, mean: x[0].floats, logVariance: x[1].floats, count: s[0].count, width: s[0].columns,
                           seed: seed, sample: sample, context: context)
        case .reparameterizeGradient(let seed, let sample):
            reparameterizeGradient(dLogVariance: y[0].floats, logVariance: x[0].floats, dz: x[1].floats, count: s[0].count,
                                   width: s[0].columns, seed: seed, sample: sample, context: context)
        case .vaeLoss(let objective):
            vaeLoss(objective, terms: y[0].floats, total: y[1].floats, lossInputs(x, s, objective))
        case .vaeLossGradient(let objective):
            vaeLossGradient(objective, y.map(\.floats), lossInputs(x, s, objective), dLoss: x[objective.lossInputCount].floats[0])
        case .vaeLossWithGradient(let objective):  // the two ops in turn: each is one pass already
            vaeLoss(objective, terms: y[0].floats, total: y[1].floats, lossInputs(x, s, objective))
            vaeLossGradient(objective, y.dropFirst(2).map(\.floats), lossInputs(x, s, objective), dLoss: x[objective.lossInputCount].floats[0])
        case .gather(let rows):
            try gather(y: y[0].floats, table: x[0].floats, indices: x[1].ints, rows: rows, tableRows: s[0].rows,
                       width: s[0].columns, indexCount: s[1].count, cursor: context.cursor)
        case .gatherPalette(let rows):
            try gather(y: y[0].floats, bytes: x[0].bytes, palette: x[2].floats, indices: x[1].ints, rows: rows, tableRows: s[0].rows,
                       width: s[0].columns, indexCount: s[1].count, cursor: context.cursor)
        case .adam(let h):
            adam(h, parameter: x[0].floats, gradient: x[1].floats, m: x[2].floats, v: x[3].floats, count: s[0].count, step: context.step)
        case .adamSummingRows(let h):  // the two ops in turn, as unfused
            adamSummingRows(h, parameter: x[0], rows: x[1], m: x[2], v: x[3], rowsShape: s[1], step: context.step)
        case .adamTransposedProduct(let h, let bias):  // the ops in turn, as unfused
            let (m, n, k) = (s[0].rows, s[0].columns, s[1].rows)
            let g = try scratch(2, count: m * n)
            matmul(c: g, a: x[1].floats, b: x[2].floats, m: m, n: n, k: k, transposeA: true, transposeB: false)
            adam(h, parameter: x[0].floats, gradient: g, m: x[3].floats, v: x[4].floats, count: s[0].count, step: context.step)
            if bias { adamSummingRows(h, parameter: x[5], rows: x[1], m: x[6], v: x[7], rowsShape: s[1], step: context.step) }
        case .sgd(let lr):
            sgd(learningRate: lr, parameter: x[0].floats, gradient: x[1].floats, count: s[0].count)
        }
    }

    func lossInputs(_ x: [CPUBuffer], _ s: [Shape], _ objective: VAEObjective) -> LossInputs {
        LossInputs(x: x[0].floats, decoded: x[1].floats, mean: x[2].floats, logVariance: x[3].floats,
                   z: objective.zIndex.map { x[$0].floats }, variances: objective.varianceIndex.map { x[$0].floats },
                   batch: s[0].rows, dataSize: s[0].columns, latentSize: s[2].columns)
    }

    /// Runs `body` over [0, count) in contiguous chunks, on all threads when count is large.
    /// Inlined so the element loops in `body` are specialized where they are written.
    @inline(__always)
    func parallelFor(_ count: Int, grain: Int? = nil, _ body: (Range<Int>) -> Void) {
        let g = grain ?? parallelGrain
        let chunks = min(threads, max(1, count / g))
        // Denormals flushed to zero inside the backend's loops (and OpenBLAS calls made from them).
        guard chunks > 1 else {
            let previous = vector_flush_denormals()
            body(0..<count)
            return vector_restore_denormals(previous)
        }
        // The chunks are disjoint and the call returns only when all are done, so sharing
        // `body` (and the pointers it captures) across the worker threads is sound.
        let ranged = { (c: Int) in body((count * c / chunks)..<(count * (c + 1) / chunks)) }
        if WorkerPool.shared(threads: threads).run(chunks: chunks, ranged) { return }
        // The pool is busy with another backend's loop (another thread): Dispatch's workers.
        withoutActuallyEscaping(ranged) { escaping in
            nonisolated(unsafe) let work = escaping
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let previous = vector_flush_denormals()
                work(c)
                vector_restore_denormals(previous)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
enum ProcessInfoCores { static var count: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) } }
#else
import Foundation
enum ProcessInfoCores { static var count: Int { ProcessInfo.processInfo.activeProcessorCount } }
#endif
