#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How much memory a backend can hand out: the largest single buffer and all buffers together.
/// Sizes that come from users (flags, file headers, checkpoint metadata) are checked against
/// these before anything is allocated.
public struct MemoryLimits: Sendable, CustomStringConvertible {
    public var maxBufferBytes: Int
    public var totalBytes: Int
    /// Whose memory this is, for messages ("this machine's memory", "OpenCL device …").
    public var owner: String

    public init(maxBufferBytes: Int, totalBytes: Int, owner: String) {
        self.maxBufferBytes = maxBufferBytes
        self.totalBytes = totalBytes
        self.owner = owner
    }

    public var description: String {
        maxBufferBytes >= totalBytes ? "\(owner) (\(formatBytes(Double(totalBytes))))"
            : "\(owner) (at most \(formatBytes(Double(maxBufferBytes))) per buffer, \(formatBytes(Double(totalBytes))) in all)"
    }

    /// The host's memory: physical memory, or the control group's limit when that is lower.
    public static let host: MemoryLimits = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        var total = pages > 0 && size > 0 ? pages.multipliedReportingOverflow(by: size).partialValue : Int.max
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = readSmallFile(file), let limit = Int(text.trimmingCharacters(in: " \n")), limit > 0 { total = min(total, limit) }
        }
        return MemoryLimits(maxBufferBytes: total, totalBytes: total, owner: "this machine's memory")
    }()
}

/// "1.5 GiB": bytes in binary units, for messages.
public func formatBytes(_ bytes: Double) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = bytes, unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    guard value.isFinite, value < 1e6 else { return "\(bytes) bytes" }
    if unit == 0 { return "\(Int(value)) bytes" }
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) \(units[unit])"
}

private func readSmallFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 64)
    guard fgets(&buffer, 64, file) != nil else { return nil }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}
