/// Memory owned by a backend (host memory, an OpenCL buffer). Released when the object dies.
public protocol DeviceBuffer: AnyObject {
    var byteCount: Int { get }
}

/// A buffer bound to the spec of the tensor it holds for one op.
public struct TensorBuffer {
    public let buffer: any DeviceBuffer
    public let spec: TensorSpec

    public init(_ buffer: any DeviceBuffer, _ spec: TensorSpec) {
        self.buffer = buffer
        self.spec = spec
    }
}

/// Errors a backend raises on misuse or when the machine refuses.
public enum BackendError: Error, CustomStringConvertible {
    case foreignBuffer(backend: String)
    case outOfRange(op: String, detail: String)
    case allocationFailed(bytes: Int, detail: String)
    case sizeMismatch(what: String, expected: Int, got: Int)
    /// A tensor, or all of a graph's tensors together, would not fit the backend's memory.
    case insufficientMemory(what: String, bytes: Int, limits: MemoryLimits)

    public var description: String {
        switch self {
        case .foreignBuffer(let backend): "a buffer from another backend was passed to the \(backend) backend"
        case .outOfRange(let op, let detail): "\(op): \(detail)"
        case .allocationFailed(let bytes, let detail): "could not allocate \(bytes) bytes: \(detail)"
        case .sizeMismatch(let what, let expected, let got): "\(what): expected \(expected) bytes, got \(got)"
        case .insufficientMemory(let what, let bytes, let limits):
            "\(what) needs \(formatBytes(Double(bytes))), more than \(limits) allows; use a smaller model, batch or data set"
        }
    }
}

extension BackendError {
    /// Throws `.sizeMismatch` unless bytes [offset, offset + count) lie inside `buffer`: the
    /// check every backend's `write` and `read` make before copying.
    public static func checkRange(_ what: String, offset: Int, count: Int, in buffer: any DeviceBuffer) throws(BackendError) {
        guard offset >= 0, offset + count <= buffer.byteCount else {
            throw .sizeMismatch(what: what, expected: buffer.byteCount - offset, got: count)
        }
    }
}

/// A device that executes the op interface. Implementations are one exhaustive `switch` over
/// `Op`; work may be queued, and `read` waits for everything queued before it.
public protocol Backend: AnyObject {
    /// A human-readable description of the device.
    var deviceDescription: String { get }
    /// The largest buffer and the total memory `allocate` can hand out.
    var memoryLimits: MemoryLimits { get }
    func allocate(bytes: Int) throws -> any DeviceBuffer
    /// Copies host bytes into the buffer at a byte offset.
    func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, offset: Int) throws
    /// Copies buffer bytes to the host, after all queued work that precedes it.
    func read(_ buffer: any DeviceBuffer, offset: Int, into bytes: UnsafeMutableRawBufferPointer) throws
    /// Executes (or enqueues) one op. Specs give each buffer's shape; sizes were checked by the graph.
    func execute(_ op: Op, inputs: [TensorBuffer], outputs: [TensorBuffer], context: RunContext) throws
    /// Waits until all queued work has finished.
    func synchronize() throws
}

extension Backend {
    /// Uploads 4-byte elements (Float or Int32) into a buffer, which must be large enough.
    public func upload<T: BitwiseCopyable>(_ values: [T], to buffer: any DeviceBuffer, offset: Int = 0) throws {
        try BackendError.checkRange("upload", offset: offset, count: values.count * MemoryLayout<T>.stride, in: buffer)
        try values.withUnsafeBytes { try write($0, to: buffer, offset: offset) }
    }

    /// Downloads `count` elements from the start of a buffer.
    public func download<T: BitwiseCopyable>(_ buffer: any DeviceBuffer, count: Int, as: T.Type = Float.self) throws -> [T] {
        let bytes = count * MemoryLayout<T>.stride
        guard bytes <= buffer.byteCount else {
            throw BackendError.sizeMismatch(what: "download", expected: buffer.byteCount, got: bytes)
        }
        var result = [T](unsafeUninitializedCapacity: count) { _, n in n = count }
        try result.withUnsafeMutableBytes { try read(buffer, offset: 0, into: $0) }
        return result
    }

    /// Allocates a buffer holding `values`.
    public func makeBuffer<T: BitwiseCopyable>(_ values: [T]) throws -> any DeviceBuffer {
        let buffer = try allocate(bytes: max(values.count * MemoryLayout<T>.stride, 4))
        try upload(values, to: buffer)
        return buffer
    }
}
