import Foundation

/// Writes `data` to a temporary file beside `path`, flushes it, then renames it over `path`:
/// a reader (or a crash) sees the old file or the new one, never half of one.
func writeAtomically(_ data: Data, to path: String) throws(FileError) {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path
    let temporary = (directory as NSString).appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
        throw .notWritable(path: directory, reason: "cannot create a file there")
    }
    guard let handle = FileHandle(forWritingAtPath: temporary) else { throw .notWritable(path: temporary, reason: "cannot open it") }
    do {
        try handle.write(contentsOf: data)
        try handle.synchronize()
        try handle.close()
    } catch {
        try? FileManager.default.removeItem(atPath: temporary)
        throw .notWritable(path: path, reason: "\(error)")
    }
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(atPath: temporary)
        throw .notWritable(path: path, reason: reason)
    }
}

/// Writes text through a temporary file and a rename.
public func writeTextAtomically(_ text: String, to path: String) throws(FileError) {
    try writeAtomically(Data(text.utf8), to: path)
}

/// Creates `path` (and its parents) if needed and checks that files can be written there.
public func prepareOutputDirectory(_ path: String) throws(FileError) {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw .notWritable(path: path, reason: "cannot create the folder (\(error.localizedDescription))")
    }
    guard FileManager.default.isWritableFile(atPath: path) else { throw .notWritable(path: path, reason: "permission denied") }
    removeStaleTemporaryFiles(in: path)
}

/// Deletes the temporary files (`.NAME.PID.tmp`, see `writeAtomically`) that a process killed
/// mid-write left in `directory`, when that process no longer runs.
func removeStaleTemporaryFiles(in directory: String) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
    for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
        let parts = name.dropLast(4).split(separator: ".")
        guard let pid = parts.last.flatMap({ Int32($0) }), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
        try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
    }
}

/// An output that cannot be written.
public enum FileError: Error, CustomStringConvertible, Equatable {
    case notWritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .notWritable(let path, let reason): "cannot write to \(path): \(reason); choose another folder with --out"
        }
    }
}
