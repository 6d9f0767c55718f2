import CZlib
import Engine
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
        var offset = 0
        try self.init(path: path, rank: expectedRank, limit: Int.max) { (n: Int) throws(DataError) -> [UInt8] in
            let chunk = data[offset..<offset + min(n, data.count - offset)]
            offset += chunk.count
            return Array(chunk)
        } extra: { data.count - offset }
    }

    /// Reads a file, inflating it when it starts with the gzip signature (required for .gz).
    /// The header's sizes are checked against `limit` bytes before the data is read, and a gzip
    /// stream is inflated only as far as the header promises.
    public init(contentsOf path: String, rank: Int? = nil, limit: Int = MemoryLimits.host.totalBytes) throws(DataError) {
        guard let status = FileStatus(path) else { throw .missing(path: path) }
        guard status.kind != .directory else { throw .unreadable(path: path, reason: "it is a directory") }
        guard status.size <= limit else {
            throw .tooLarge(path: path, detail: "the file holds \(formatBytes(Double(status.size))), more than \(formatBytes(Double(limit))) that fit in memory")
        }
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path) } catch { throw .unreadable(path: path, reason: error.reasonText) }
        let isGzip = bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
        if path.hasSuffix(".gz") && !isGzip { throw .notGzip(path: path) }
        guard isGzip else { try self.init(parsing: bytes, path: path, rank: rank); return }
        let inflater = try GzipInflater(bytes, path: path)
        try self.init(path: path, rank: rank, limit: limit, read: { (n: Int) throws(DataError) -> [UInt8] in try inflater.read(n) },
                      extra: { (try? inflater.read(1).count) ?? 0 }, streamed: true)
    }

    /// Parses the header from `read`, checks the data size against `limit`, then reads exactly
    /// that much; `extra` tells how many bytes are left after it (for gzip: whether any are).
    private init(path: String, rank expectedRank: Int?, limit: Int, read: (Int) throws(DataError) -> [UInt8], extra: () -> Int,
                 streamed: Bool = false) throws(DataError) {
        let magic = try read(4)
        guard magic.count == 4, magic[0] == 0, magic[1] == 0, magic[2] == 0x08 else {
            throw .badMagic(path: path, found: magic.map { String(format: "%02x", $0) }.joined(separator: " "))
        }
        let rank = Int(magic[3])
        if let expectedRank, rank != expectedRank { throw .badRank(path: path, expected: expectedRank, found: rank) }
        let sizes = try read(4 * rank)
        guard rank >= 1, sizes.count == 4 * rank else {
            throw .lengthMismatch(path: path, expected: 4 + 4 * max(rank, 1), found: 4 + sizes.count)
        }
        var dims: [Int] = []
        var total = 1
        var overflow = false
        for i in 0..<rank {
            let o = 4 * i
            let d = Int(sizes[o]) << 24 | Int(sizes[o + 1]) << 16 | Int(sizes[o + 2]) << 8 | Int(sizes[o + 3])
            dims.append(d)
            let (product, o2) = total.multipliedReportingOverflow(by: d)
            overflow = overflow || o2
            total = product
        }
        guard !overflow, total <= limit else {
            throw .tooLarge(path: path, detail: "its header promises \(dims.map(String.init).joined(separator: " × ")) = \(overflow ? "more than 2⁶³" : "\(total)") bytes of data, more than \(formatBytes(Double(limit))) that fit in memory")
        }
        let body = try read(total)
        guard body.count == total else { throw .lengthMismatch(path: path, expected: total, found: body.count) }
        let left = extra()
        guard left == 0 else {
            throw streamed ? .inflatesBeyond(path: path, promised: total) : .lengthMismatch(path: path, expected: total, found: total + left)
        }
        dimensions = dims
        bytes = body
    }

    /// The IDX encoding of this array.
    public var encoded: [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { out += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        return out + bytes
    }
}
