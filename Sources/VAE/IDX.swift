import CZlib
import Foundation

/// An IDX array of unsigned bytes (the MNIST file format): big-endian header of magic
/// 00 00 08 rank, then `rank` 32-bit sizes, then the bytes.
public struct IDXArray: Equatable {
    public var dimensions: [Int]
    public var bytes: [UInt8]

    public init(dimensions: [Int], bytes: [UInt8]) {
        self.dimensions = dimensions
        self.bytes = bytes
    }

    /// Parses IDX data; `path` names the source in errors.
    public init(parsing data: [UInt8], path: String, rank expectedRank: Int? = nil) throws(DataError) {
        guard data.count >= 4, data[0] == 0, data[1] == 0, data[2] == 0x08 else {
            throw .badMagic(path: path, found: data.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " "))
        }
        let rank = Int(data[3])
        if let expectedRank, rank != expectedRank { throw .badRank(path: path, expected: expectedRank, found: rank) }
        guard rank >= 1, data.count >= 4 + 4 * rank else {
            throw .lengthMismatch(path: path, expected: 4 + 4 * max(rank, 1), found: data.count)
        }
        var dims: [Int] = []
        var total = 1
        var overflow = false
        for i in 0..<rank {
            let o = 4 + 4 * i
            let d = Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3])
            dims.append(d)
            let (product, o2) = total.multipliedReportingOverflow(by: d)
            overflow = overflow || o2
            total = product
        }
        let header = 4 + 4 * rank
        guard !overflow, data.count - header == total else {
            throw .lengthMismatch(path: path, expected: overflow ? Int.max : total, found: data.count - header)
        }
        dimensions = dims
        bytes = Array(data[header...])
    }

    /// Reads a file, gunzipping it when it starts with the gzip signature (required for .gz).
    public init(contentsOf path: String, rank: Int? = nil) throws(DataError) {
        try self.init(parsing: try readMaybeGzip(path), path: path, rank: rank)
    }

    /// The IDX encoding of this array.
    public var encoded: [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { out += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        return out + bytes
    }
}

/// The bytes of a file; gzip data (signature 1f 8b) is inflated. A .gz name without the
/// signature is an error.
func readMaybeGzip(_ path: String) throws(DataError) -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .missing(path: path) }
    guard !isDirectory.boolValue else { throw .unreadable(path: path, reason: "it is a directory") }
    guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path, reason: "permission denied or I/O error") }
    let bytes = [UInt8](data)
    let isGzip = bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    if path.hasSuffix(".gz") && !isGzip { throw .notGzip(path: path) }
    return isGzip ? try gunzip(bytes, path: path) : bytes
}

/// Inflates a complete gzip stream with zlib; a truncated or corrupt stream is an error.
func gunzip(_ input: [UInt8], path: String) throws(DataError) -> [UInt8] {
    var stream = z_stream()
    guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw .corruptGzip(path: path, reason: "zlib could not start")
    }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    output.reserveCapacity(input.count * 4)
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    var status: Int32 = Z_OK
    input.withUnsafeBufferPointer { src in
        stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
        stream.avail_in = uInt(src.count)
        repeat {
            chunk.withUnsafeMutableBufferPointer { dst in
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                status = inflate(&stream, Z_NO_FLUSH)
                output.append(contentsOf: dst.prefix(dst.count - Int(stream.avail_out)))
            }
        } while status == Z_OK
    }
    guard status == Z_STREAM_END else {
        let reason = status == Z_BUF_ERROR ? "the stream ends early" : (stream.msg.map { String(cString: $0) } ?? "zlib error \(status)")
        throw .corruptGzip(path: path, reason: reason)
    }
    return output
}
