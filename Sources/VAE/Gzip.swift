import CZlib

/// Inflates gzip data piece by piece, member after member (`cat a.gz b.gz` is valid gzip and is
/// read whole), so a reader takes only as many bytes as it expects and can refuse a stream that
/// inflates to more. Zero bytes after the last member are ignored, as gzip(1) does.
final class GzipInflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let input: [UInt8]
    private var consumed = 0
    private var finished = false
    let path: String

    init(_ input: [UInt8], path: String) throws(DataError) {
        self.input = input
        self.path = path
        stream.initialize(to: z_stream())
        guard inflateInit2_(stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw .corruptGzip(path: path, reason: "zlib could not start")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Up to `count` inflated bytes; fewer only at the end of the data.
    func read(_ count: Int) throws(DataError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = try out.withUnsafeMutableBufferPointer { (buffer) throws(DataError) -> Int in try read(into: buffer) }
        out.removeLast(count - n)
        return out
    }

    /// Fills `buffer` as far as the data goes and returns the number of bytes written.
    func read(into buffer: UnsafeMutableBufferPointer<UInt8>) throws(DataError) -> Int {
        var produced = 0
        while produced < buffer.count && !finished {
            let status: Int32 = input.withUnsafeBufferPointer { src in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: src.baseAddress.map { $0 + consumed })
                stream.pointee.avail_in = uInt(src.count - consumed)
                stream.pointee.next_out = buffer.baseAddress! + produced
                stream.pointee.avail_out = uInt(min(buffer.count - produced, Int(UInt32.max)))
                let before = Int(stream.pointee.avail_out)
                let status = inflate(stream, Z_NO_FLUSH)
                produced += before - Int(stream.pointee.avail_out)
                consumed = src.count - Int(stream.pointee.avail_in)
                return status
            }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                let rest = input[consumed...]
                if rest.starts(with: [0x1F, 0x8B]) {
                    inflateReset(stream)
                } else if rest.allSatisfy({ $0 == 0 }) {
                    finished = true
                } else {
                    throw .corruptGzip(path: path, reason: "\(rest.count) bytes after the end of the gzip data are not another gzip member")
                }
            case Z_BUF_ERROR where consumed == input.count:
                throw .corruptGzip(path: path, reason: "the stream ends early")
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw .corruptGzip(path: path, reason: message)
            }
        }
        return produced
    }
}
