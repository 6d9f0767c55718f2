import Engine
import Foundation

/// Paths as the file system sees them: byte strings, not always valid UTF-8.
///
/// A Swift `String` cannot hold invalid UTF-8, so the bytes that are not part of valid UTF-8 are
/// carried as the code points U+10FF00 + byte (a private-use range; a valid sequence that
/// encodes one of those code points is escaped byte by byte too, so the mapping is exact both
/// ways). `escaped` turns bytes from argv or a directory listing into such a string; every
/// system call here turns it back with `bytes`, and console output prints the original bytes.
public enum PathBytes {
    static let base: UInt32 = 0x10FF00

    /// The string that stands for `bytes`.
    public static func escaped<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let input = Array(bytes)
        var result = String.UnicodeScalarView()
        var i = 0
        while i < input.count {
            let length = validSequenceLength(input, at: i)
            if length > 0, let scalar = decode(input[i..<i + length]), scalar.value < base {
                result.append(scalar)
            } else {
                for b in input[i..<i + max(length, 1)] { result.append(Unicode.Scalar(base + UInt32(b))!) }
            }
            i += max(length, 1)
        }
        return String(result)
    }

    /// The bytes that `path` stands for (the inverse of `escaped`).
    public static func bytes(_ path: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(path.utf8.count)
        for scalar in path.unicodeScalars {
            if scalar.value >= base {
                out.append(UInt8(truncatingIfNeeded: scalar.value - base))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }

    /// Calls `body` with `path` as a NUL-terminated C string of its original bytes.
    public static func withCString<R>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        let raw = bytes(path).map { CChar(bitPattern: $0) } + [0]
        return try raw.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// Length of the valid UTF-8 sequence starting at `i`, or 0.
    private static func validSequenceLength(_ b: [UInt8], at i: Int) -> Int {
        let lead = b[i]
        let (length, low, high): (Int, UInt8, UInt8) = switch lead {
        case 0x00...0x7F: (1, 0, 0)
        case 0xC2...0xDF: (2, 0x80, 0xBF)
        case 0xE0: (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80, 0xBF)
        case 0xED: (3, 0x80, 0x9F)
        case 0xF0: (4, 0x90, 0xBF)
        case 0xF1...0xF3: (4, 0x80, 0xBF)
        case 0xF4: (4, 0x80, 0x8F)
        default: (0, 0, 0)
        }
        guard length > 1 else { return length }
        guard i + length <= b.count, (low...high).contains(b[i + 1]) else { return 0 }
        for k in 2..<length where !(0x80...0xBF).contains(b[i + k]) { return 0 }
        return length
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> Unicode.Scalar? {
        String(decoding: bytes, as: UTF8.self).unicodeScalars.first
    }
}

/// What a path names, from stat(2).
public struct FileStatus: Equatable, Sendable {
    public enum Kind: Sendable { case regular, directory, other }
    public var kind: Kind
    public var size: Int
    /// Device and inode: two paths name the same file exactly when these are equal.
    public var identity: [UInt64]

    /// The status of `path` (following symbolic links), or nil when nothing is there.
    public init?(_ path: String) {
        var s = stat()
        guard PathBytes.withCString(path, { stat($0, &s) }) == 0 else { return nil }
        switch s.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        default: kind = .other
        }
        size = Int(s.st_size)
        identity = [UInt64(s.st_dev), UInt64(s.st_ino)]
    }
}

/// Small POSIX wrappers that keep a path's bytes intact and name the path in every error.
public enum FileSystem {
    public static func isDirectory(_ path: String) -> Bool { FileStatus(path)?.kind == .directory }
    public static func exists(_ path: String) -> Bool { FileStatus(path) != nil }

    /// `directory/name`.
    public static func join(_ directory: String, _ name: String) -> String {
        directory.isEmpty ? name : (directory.hasSuffix("/") ? directory + name : directory + "/" + name)
    }

    /// The folder part of a path ("." for a bare name).
    public static func parent(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    /// The last component of a path.
    public static func name(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p.lastIndex(of: "/").map { String(p[p.index(after: $0)...]) } ?? p
    }

    /// The bytes of a regular file: the first `limit` of them, or with no limit the whole file,
    /// which must fit in half the host's memory. A FIFO, device or socket is refused (reading
    /// one could block or never end), and so is opening it: O_NONBLOCK keeps open(2) from
    /// waiting for a FIFO's writer.
    public static func read(_ path: String, limit: Int? = nil) throws(FileError) -> [UInt8] {
        let fd = PathBytes.withCString(path) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else { throw .unreadable(path: path, reason: lastError()) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .unreadable(path: path, reason: lastError()) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .unreadable(path: path, reason: "it is not a regular file") }
        let most = MemoryLimits.host.totalBytes / 2
        guard limit != nil || Int(status.st_size) <= most else {
            throw .unreadable(path: path, reason: "it holds \(formatBytes(Double(status.st_size))), more than half of \(MemoryLimits.host)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while limit.map({ out.count < $0 }) ?? true {
            let want = min(chunk.count, (limit ?? Int.max) - out.count)
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: lastError())
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// The names in a folder (without "." and ".."), or nil when it cannot be listed.
    public static func list(_ directory: String) -> [String]? {
        guard let dir = PathBytes.withCString(directory, { opendir($0) }) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(PathBytes.escaped(name)) }
        }
        return names
    }

    /// Creates a folder and its parents where missing.
    public static func createDirectories(_ path: String) throws(FileError) {
        if isDirectory(path) { return }
        let up = parent(path)
        if up != path && up != "." && up != "/" && !exists(up) { try createDirectories(up) }
        guard PathBytes.withCString(path, { mkdir($0, 0o777) }) == 0 || (errno == EEXIST && isDirectory(path)) else {
            throw .notWritable(path: path, reason: "cannot create the folder (\(lastError()))")
        }
    }

    public static func remove(_ path: String) { _ = PathBytes.withCString(path) { unlink($0) } }

    /// Whether this process may create files in `directory`.
    public static func isWritableDirectory(_ directory: String) -> Bool {
        PathBytes.withCString(directory) { access($0, W_OK | X_OK) } == 0
    }

    /// The message of the last failed call (errno).
    static func lastError() -> String { reason(errno) }

    static func reason(_ code: Int32) -> String {
        switch code {
        case ENOSPC, EDQUOT: "no space left on the device"
        default: String(cString: strerror(code)).lowercased()
        }
    }
}
