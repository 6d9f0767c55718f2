import Foundation

/// A C-ordered array from a NumPy .npy file (format versions 1, 2 and 3), memory-mapped rather
/// than read whole. Element types: float32, float64, and signed or unsigned integers of 1 to 8
/// bytes, little-endian (or single bytes).
public struct NumpyArray {
    public let shape: [Int]
    /// NumPy's type code without the byte order: "f4", "f8", "u1", "i8", …
    public let type: String
    let data: Data
    let offset: Int

    public init(contentsOf path: String) throws(DataError) {
        let mapped: Data
        do { mapped = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw FileSystem.exists(path) ? .unreadable(path: path, reason: error.localizedDescription) : .missing(path: path)
        }
        data = mapped
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard mapped.count >= 10, Array(mapped.prefix(6)) == magic else {
            throw .numpy(path: path, detail: "it does not start with the .npy magic \\x93NUMPY")
        }
        let major = mapped[mapped.startIndex + 6]
        let lengthBytes = major == 1 ? 2 : 4
        guard [1, 2, 3].contains(major), mapped.count >= 8 + lengthBytes else {
            throw .numpy(path: path, detail: "format version \(major) is not one of 1, 2, 3")
        }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(mapped[mapped.startIndex + 8 + $1]) << (8 * $1) }
        offset = 8 + lengthBytes + headerLength
        guard mapped.count >= offset else { throw .numpy(path: path, detail: "the file ends inside its header") }
        let header = String(decoding: mapped[(mapped.startIndex + 8 + lengthBytes)..<(mapped.startIndex + offset)], as: UTF8.self)
        func field(_ key: String) -> Substring? {
            guard let k = header.range(of: "'\(key)'") else { return nil }
            guard let colon = header[k.upperBound...].firstIndex(of: ":") else { return nil }
            return header[header.index(after: colon)...].drop { $0 == " " }
        }
        guard let descr = field("descr"), descr.first == "'", let end = descr.dropFirst().firstIndex(of: "'") else {
            throw .numpy(path: path, detail: "its header has no 'descr' (element type): \(header.prefix(120))")
        }
        let code = descr[descr.index(after: descr.startIndex)..<end]
        guard let order = code.first, ["<", "|", "="].contains(order), code.count >= 3 else {
            throw .numpy(path: path, detail: "element type \(code) is not little-endian (convert it with array.astype('<f4'))")
        }
        type = String(code.dropFirst())
        guard ["f4", "f8", "u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8"].contains(type) else {
            throw .numpy(path: path, detail: "element type \(code) is not float32, float64 or an integer type")
        }
        guard let fortran = field("fortran_order"), fortran.hasPrefix("False") else {
            throw .numpy(path: path, detail: "it is stored in Fortran order (save numpy.ascontiguousarray(array) instead)")
        }
        guard let shapeText = field("shape"), shapeText.first == "(", let close = shapeText.firstIndex(of: ")") else {
            throw .numpy(path: path, detail: "its header has no 'shape'")
        }
        let dims = shapeText[shapeText.index(after: shapeText.startIndex)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var parsed: [Int] = []
        for d in dims where !d.isEmpty {
            guard let v = Int(d), v >= 0 else { throw .numpy(path: path, detail: "its shape (\(shapeText[..<close]))) is not a list of sizes") }
            parsed.append(v)
        }
        shape = parsed
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: itemSize)
        guard !overflow else { throw .tooLarge(path: path, detail: "its shape \(shape) holds more elements than memory") }
        guard mapped.count - offset == bytes else {
            throw .numpy(path: path, detail: mapped.count - offset < bytes
                ? "it is truncated: its shape \(shape) of \(type) needs \(bytes) bytes of data, the file holds \(mapped.count - offset)"
                : "it holds \(mapped.count - offset - bytes) bytes after the \(bytes) its shape \(shape) of \(type) needs")
        }
    }

    var itemSize: Int { Int(type.dropFirst()) ?? 1 }
    public var count: Int { shape.reduce(1, *) }

    /// The elements as floats (integers converted exactly up to 2²⁴).
    public func floats() -> [Float] {
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + offset
            return (0..<count).map { i in
                switch type {
                case "f4": Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case "f8": Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                default: Float(integer(base, i))
                }
            }
        }
    }

    /// The elements as integers; nil unless the type is an integer type.
    public func integers() -> [Int]? {
        guard type.hasPrefix("i") || type.hasPrefix("u") else { return nil }
        return data.withUnsafeBytes { raw in (0..<count).map { integer(raw.baseAddress! + offset, $0) } }
    }

    private func integer(_ base: UnsafeRawPointer, _ i: Int) -> Int {
        switch type {
        case "u1": Int(base.load(fromByteOffset: i, as: UInt8.self))
        case "i1": Int(base.load(fromByteOffset: i, as: Int8.self))
        case "u2": Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case "i2": Int(Int16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
        case "u4": Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case "i4": Int(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        case "u8": Int(truncatingIfNeeded: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
        default: Int(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        }
    }
}
