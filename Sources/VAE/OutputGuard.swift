import Foundation

/// The files a training run keeps in its folder.
public enum RunFolder {
    public static let model = "model.safetensors"
    public static let metrics = "metrics.csv"
    /// Held with flock(2) for the life of a training run (see `RunFolderLock`).
    public static let lock = ".vae.lock"
    /// The first line of metrics.csv.
    public static let metricsHeader = "epoch,step,train_loss,test_neg_elbo,test_reconstruction,test_kl,epoch_seconds,samples_per_second"
}

/// The kinds of file the commands write. An existing file is replaced without --overwrite only
/// when its first bytes show it is an earlier output of the same kind (or it is empty).
public enum OutputKind: Sendable {
    case png, csv, npy, svg

    var noun: String {
        switch self {
        case .png: "a PNG image"
        case .csv: "a CSV file of swift-vae results (first line index,label,…)"
        case .npy: "a NumPy .npy file"
        case .svg: "an SVG chart"
        }
    }

    func isEarlierOutput(_ head: [UInt8]) -> Bool {
        switch self {
        case .png: head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        case .csv: head.starts(with: Array("index,label,".utf8))
        case .npy: head.starts(with: [0x93] + Array("NUMPY".utf8))
        case .svg: head.starts(with: Array("<svg".utf8)) || head.starts(with: Array("<?xml".utf8))
        }
    }
}

/// Decides whether a command may write an output file, so that no output replaces what a user
/// trained or collected: the checkpoint or data the command reads, any safetensors checkpoint,
/// a run's model or metrics history, an IDX data file, or any file that is not an earlier
/// output of the same kind. `--overwrite` lifts the refusal; a folder is never replaced.
public enum OutputGuard {
    public static func check(_ path: String, kind: OutputKind, flag: String = "--out", reads inputs: [String] = [],
                             overwrite: Bool) throws(FileError) {
        guard let status = FileStatus(path) else { return }
        guard status.kind != .directory else { throw .notWritable(path: path, reason: "it is a folder; \(flag) takes a file name") }
        if overwrite { return }
        for input in inputs where FileStatus(input)?.identity == status.identity {
            throw .protected(path: path, flag: flag, holds: "\(input), which this command reads")
        }
        guard status.kind == .regular, status.size > 0 else { return }
        let head = (try? FileSystem.read(path, limit: 1 << 16)) ?? []
        if let holds = valuable(path, head: head) { throw .protected(path: path, flag: flag, holds: holds) }
        guard kind.isEarlierOutput(head) else {
            throw .protected(path: path, flag: flag, holds: "an existing file that is not \(kind.noun) from an earlier run")
        }
    }

    /// What a file holds, in words, when it is something a user trained or collected.
    static func valuable(_ path: String, head: [UInt8]) -> String? {
        let name = FileSystem.name(path), folder = FileSystem.parent(path)
        if isSafetensors(head) {
            let text = String(decoding: head, as: UTF8.self)
            return text.contains("\"swift-vae/1\"") || text.contains("\"swift-vae\\/1\"")
                ? "a swift-vae checkpoint (a trained model)" : "a safetensors checkpoint"
        }
        if head.starts(with: Array(RunFolder.metricsHeader.utf8)) { return "the training history (metrics.csv) of a run" }
        if isIDX(head) { return "an IDX data file" }
        if [RunFolder.model, RunFolder.metrics].contains(name),
           FileSystem.exists(FileSystem.join(folder, RunFolder.model)) || FileSystem.exists(FileSystem.join(folder, RunFolder.lock)) {
            return "\(name) of the run in \(folder)"
        }
        return nil
    }

    /// An 8-byte little-endian header length followed by a JSON object.
    static func isSafetensors(_ head: [UInt8]) -> Bool {
        guard head.count > 8 else { return false }
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(head[$1]) << (8 * UInt64($1)) }
        return length >= 2 && length < 1 << 30 && head[8] == UInt8(ascii: "{")
    }

    /// IDX magic 00 00 08 rank, plain or inside gzip.
    static func isIDX(_ head: [UInt8]) -> Bool {
        var bytes = head
        if head.starts(with: [0x1F, 0x8B]) { bytes = (try? GzipInflater(head, path: "").read(4)) ?? [] }
        return bytes.count >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08 && (1...4).contains(bytes[3])
    }
}

/// An exclusive hold on a run folder for the life of a training run: an advisory flock(2) on
/// `RunFolder.lock`, which the kernel drops when the process ends (SIGKILL included), so it can
/// never be left stuck. The file holds the PID of the holder for the message of a second writer.
public final class RunFolderLock {
    private let fd: Int32
    public let folder: String

    /// Takes the lock or throws `.busy` naming the holder's PID; the folder must exist.
    public init(folder: String) throws(FileError) {
        self.folder = folder
        let path = FileSystem.join(folder, RunFolder.lock)
        // O_NOFOLLOW and the checks below: a lock file planted as a link to someone's file must
        // not be truncated through.
        let fd = PathBytes.withCString(path) { open($0, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644) }
        let planted = FileError.notWritable(path: path, reason: "it is not a swift-vae lock file (a link, or a file with other contents); remove it if no vae process runs there")
        guard fd >= 0 else {
            if errno == ELOOP { throw planted }
            throw .notWritable(path: path, reason: "cannot open it as a lock file (\(FileSystem.lastError()))")
        }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_nlink == 1, status.st_size < 64 else {
            close(fd)
            throw planted
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            guard code == EWOULDBLOCK else { throw .notWritable(path: path, reason: "cannot lock it (\(FileSystem.reason(code)))") }
            throw .busy(folder: folder, holder: Self.holder(path))
        }
        self.fd = fd
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(fd) }

    /// The lock, or nil when another process holds it.
    public static func ifFree(folder: String) throws(FileError) -> RunFolderLock? {
        do {
            return try RunFolderLock(folder: folder)
        } catch {
            if case .busy = error { return nil }
            throw error
        }
    }

    /// "PID n" from the lock file; the holder writes it right after locking, so wait briefly.
    private static func holder(_ path: String) -> String {
        for _ in 0..<20 {
            if let bytes = try? FileSystem.read(path, limit: 32),
               let pid = Int32(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                return "PID \(pid)"
            }
            usleep(10_000)
        }
        return "PID unknown"
    }
}
