import Foundation

/// Writes `data` to a temporary file beside `path`, flushes it, then renames it over `path`:
/// a reader (or a crash) sees the old file or the new one, never half of one. A full disk
/// leaves the old file as it was and says so.
func writeAtomically(_ data: Data, to path: String) throws(FileError) {
    let directory = FileSystem.parent(path)
    let temporary = FileSystem.join(directory, ".\(FileSystem.name(path)).\(getpid()).tmp")
    // A fresh file: whatever sits at the temporary name (a stale file, or a planted link to
    // someone's file) is unlinked, never written through.
    FileSystem.remove(temporary)
    let fd = PathBytes.withCString(temporary) { open($0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }
    guard fd >= 0 else { throw .notWritable(path: path, reason: "cannot create a file in \(directory) (\(FileSystem.lastError()))") }
    func fail(_ code: Int32) -> FileError {
        close(fd)
        FileSystem.remove(temporary)
        return .writing(path, code)
    }
    var written = 0
    let code: Int32? = data.withUnsafeBytes { raw -> Int32? in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            written += n
        }
        return nil
    }
    if let code { throw fail(code) }
    guard fsync(fd) == 0 || errno == EINVAL else { throw fail(errno) }
    guard close(fd) == 0 else {
        let code = errno
        FileSystem.remove(temporary)
        throw .writing(path, code)
    }
    guard PathBytes.withCString(temporary, { from in PathBytes.withCString(path) { rename(from, $0) } }) == 0 else {
        let reason = FileSystem.lastError()
        FileSystem.remove(temporary)
        throw .notWritable(path: path, reason: reason)
    }
}

/// Writes text through a temporary file and a rename.
public func writeTextAtomically(_ text: String, to path: String) throws(FileError) {
    try writeAtomically(Data(text.utf8), to: path)
}

/// Creates `path` (and its parents) if needed and checks that files can be written there.
public func prepareOutputDirectory(_ path: String) throws(FileError) {
    if let status = FileStatus(path), status.kind != .directory {
        throw .notWritable(path: path, reason: "it is a file, not a folder")
    }
    try FileSystem.createDirectories(path)
    guard FileSystem.isWritableDirectory(path) else { throw .notWritable(path: path, reason: "permission denied") }
    removeStaleTemporaryFiles(in: path)
}

/// Deletes the temporary files (`.NAME.PID.tmp`, see `writeAtomically`) that a process killed
/// mid-write left in `directory`, when that process no longer runs.
func removeStaleTemporaryFiles(in directory: String) {
    guard let names = FileSystem.list(directory) else { return }
    for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
        let parts = name.dropLast(4).split(separator: ".")
        guard let pid = parts.last.flatMap({ Int32($0) }), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
        FileSystem.remove(FileSystem.join(directory, name))
    }
}

/// A file that cannot be read or written, or may not be replaced.
public enum FileError: Error, CustomStringConvertible, Equatable {
    case notWritable(path: String, reason: String)
    case unreadable(path: String, reason: String)
    case noSpace(path: String)
    /// An output path that holds something the command must not replace without --overwrite.
    case protected(path: String, flag: String, holds: String)
    /// A run folder that another process is writing.
    case busy(folder: String, holder: String)

    public var description: String {
        switch self {
        case .notWritable(let path, let reason): "cannot write to \(path): \(reason); choose another folder with --out"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .noSpace(let path): "no space left on the device writing \(path) (the previous version, if any, is unchanged); free some space or choose another --out"
        case .protected(let path, let flag, let holds):
            "\(flag) \(path) would replace \(holds); choose another \(flag), or pass --overwrite to replace it"
        case .busy(let folder, let holder):
            "the run folder \(folder) is in use by another vae process (\(holder)); wait for it to finish or choose another --out"
        }
    }
}

extension FileError {
    /// The error of a failed write to `path` with errno `code`: a full disk says so in words.
    static func writing(_ path: String, _ code: Int32) -> FileError {
        code == ENOSPC || code == EDQUOT ? .noSpace(path: path) : .notWritable(path: path, reason: FileSystem.reason(code))
    }

    /// The reason alone, for messages that name the file themselves.
    var reasonText: String {
        switch self {
        case .notWritable(_, let reason), .unreadable(_, let reason): reason
        default: description
        }
    }
}
