import Foundation

/// A set of named float32 tensors with string metadata, stored in the safetensors format:
/// an 8-byte little-endian header length, a JSON header mapping each name to its dtype, shape
/// and byte range, then the little-endian data. Python's `safetensors` and NumPy read it.
public struct Checkpoint: Equatable {
    public struct Tensor: Equatable {
        public var shape: [Int]
        public var values: [Float]

        public init(shape: [Int], values: [Float]) {
            self.shape = shape
            self.values = values
        }
    }

    /// Tensors in the order they are written.
    public private(set) var names: [String] = []
    public private(set) var tensors: [String: Tensor] = [:]
    public var metadata: [String: String] = [:]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    public subscript(name: String) -> Tensor? { tensors[name] }

    public mutating func set(_ name: String, shape: [Int], values: [Float]) {
        if tensors[name] == nil { names.append(name) }
        tensors[name] = Tensor(shape: shape, values: values)
    }

    /// The file's bytes.
    public func encoded() -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            guard let t = tensors[name] else { continue }
            let bytes = t.values.count * 4
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }  // pad so the data is 8-byte aligned
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            guard let values = tensors[name]?.values else { continue }
            // Little-endian on every platform we build for; swap if not.
            if UInt32(1).littleEndian == 1 {
                values.withUnsafeBytes { out.append(contentsOf: $0) }
            } else {
                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        return out
    }

    /// Writes the file through a temporary file and a rename.
    public func write(to path: String) throws(FileError) {
        try writeAtomically(encoded(), to: path)
    }

    /// Reads and validates a file; every way it can be wrong is a `CheckpointError` naming it.
    public init(contentsOf path: String) throws(CheckpointError) {
        guard let status = FileStatus(path), status.kind != .directory else { throw .missing(path: path) }
        // FileSystem.read refuses a file over half the memory (it is held twice while its
        // tensors are copied out) and anything that is not a regular file.
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path) } catch { throw .unreadable(path: path, reason: error.reasonText) }
        try self.init(parsing: bytes, path: path)
    }

    public init(parsing bytes: [UInt8], path: String) throws(CheckpointError) {
        guard bytes.count >= 8 else { throw .truncated(path: path, detail: "\(bytes.count) bytes, shorter than the 8-byte header length") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .truncated(path: path, detail: "the header claims \(headerLength) bytes but only \(bytes.count - 8) follow")
        }
        let dataStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw .badHeader(path: path, detail: "the JSON header does not parse")
        }
        guard let header = json as? [String: Any] else { throw .badHeader(path: path, detail: "the JSON header is not an object") }
        if let meta = header["__metadata__"] {
            guard let strings = meta as? [String: String] else { throw .badHeader(path: path, detail: "__metadata__ must map strings to strings") }
            metadata = strings
        }
        let dataLength = bytes.count - dataStart
        var ranges: [(Int, Int, String)] = []
        for name in header.keys.sorted() where name != "__metadata__" {
            guard let entry = header[name] as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2
            else { throw .badHeader(path: path, detail: "tensor \"\(name)\" lacks a dtype, shape or data_offsets") }
            guard dtype == "F32" else { throw .unsupportedDType(path: path, tensor: name, dtype: dtype) }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw .badHeader(path: path, detail: "tensor \"\(name)\" has a negative extent") }
            let (start, end) = (offsets[0], offsets[1])
            guard start >= 0, end >= start, end <= dataLength else {
                throw .outOfBounds(path: path, tensor: name, detail: "bytes \(start)..<\(end) of a \(dataLength)-byte data section")
            }
            var count = 1
            for extent in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                guard !overflow, product <= Int.max / 4 else {
                    throw .outOfBounds(path: path, tensor: name, detail: "shape \(shape) is larger than the \(dataLength)-byte data section")
                }
                count = product
            }
            guard end - start == count * 4 else {
                throw .outOfBounds(path: path, tensor: name, detail: "shape \(shape) needs \(count * 4) bytes but its range holds \(end - start)")
            }
            ranges.append((start, end, name))
            var values = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { src in
                values.withUnsafeMutableBytes { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(dataStart + start)..<(dataStart + end)]))
                }
            }
            if UInt32(1).littleEndian != 1 { values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) } }
            names.append(name)
            tensors[name] = Tensor(shape: shape, values: values)
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw .outOfBounds(path: path, tensor: b.2, detail: "its bytes overlap those of \"\(a.2)\"")
        }
        names = ranges.map(\.2)
    }
}

/// A checkpoint that cannot be used; each message names the file and the problem.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case truncated(path: String, detail: String)
    case badHeader(path: String, detail: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case outOfBounds(path: String, tensor: String, detail: String)
    case notAModel(path: String, detail: String)
    case missingTensor(path: String, tensor: String)
    case shapeMismatch(path: String, tensor: String, checkpoint: [Int], model: [Int])
    case configurationMismatch(path: String, detail: String)
    case badMetadata(path: String, field: String, value: String, expected: String)
    case nonFinite(path: String, tensor: String, index: Int, value: Float, count: Int)

    public var description: String {
        switch self {
        case .missing(let path): "checkpoint \(path) does not exist (give a .safetensors file or a run folder holding model.safetensors)"
        case .unreadable(let path, let reason): "cannot read checkpoint \(path): \(reason)"
        case .truncated(let path, let detail): "checkpoint \(path) is truncated: \(detail)"
        case .badHeader(let path, let detail): "checkpoint \(path) is not a valid safetensors file: \(detail)"
        case .unsupportedDType(let path, let tensor, let dtype): "checkpoint \(path): tensor \"\(tensor)\" is \(dtype), expected F32"
        case .outOfBounds(let path, let tensor, let detail): "checkpoint \(path): tensor \"\(tensor)\" is corrupt: \(detail)"
        case .notAModel(let path, let detail): "\(path) is not a swift-vae checkpoint: \(detail)"
        case .missingTensor(let path, let tensor): "checkpoint \(path) has no tensor \"\(tensor)\" that the model needs"
        case .shapeMismatch(let path, let tensor, let checkpoint, let model):
            "checkpoint \(path): tensor \"\(tensor)\" has shape \(checkpoint) but the model expects \(model) (a checkpoint of another architecture?)"
        case .configurationMismatch(let path, let detail): "cannot resume from \(path): \(detail)"
        case .badMetadata(let path, let field, let value, let expected):
            "checkpoint \(path) is damaged: its metadata \"\(field)\" is \"\(value.prefix(200))\", expected \(expected)"
        case .nonFinite(let path, let tensor, let index, let value, let count):
            "checkpoint \(path) is unusable: tensor \"\(tensor)\" holds \(value) at index \(index) (\(count) non-finite values in all); the file is damaged or its training diverged"
        }
    }
}
