import CMPILoader
import Foundation
import VAE

/// How `mpirun`/`mpiexec` started this process, read from the variables the launcher sets
/// (Open MPI: OMPI_COMM_WORLD_*; MPICH's Hydra and Intel MPI: PMI_RANK, PMI_SIZE,
/// MPI_LOCALRANKID, MPI_LOCALNRANKS). Nothing here loads MPI.
public struct MPILaunch: Equatable, Sendable {
    public var rank: Int
    public var size: Int
    /// This process's number among the processes of its host, and their count (one device each).
    public var localRank: Int
    public var localSize: Int
    /// The libraries to try, in order: VAE_MPI_LIBRARY alone when set, else the launcher's own.
    public var libraries: [String]

    public init(rank: Int, size: Int, localRank: Int, localSize: Int, libraries: [String]) {
        (self.rank, self.size, self.localRank, self.localSize, self.libraries) = (rank, size, localRank, localSize, libraries)
    }

    /// The launch described by `environment`, or nil when no MPI launcher started the process.
    /// A variable that is set but not a whole number in range is an error naming it.
    public static func detect(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(MPIError) -> MPILaunch? {
        let openMPI = environment["OMPI_COMM_WORLD_SIZE"] != nil
        let (sizeName, rankName, localRankName, localSizeName) = openMPI
            ? ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE")
            : ("PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS")
        guard environment[sizeName] != nil else { return nil }
        func number(_ name: String, in range: ClosedRange<Int>, default value: Int? = nil) throws(MPIError) -> Int {
            guard let text = environment[name] else {
                if let value { return value }
                throw .badVariable(name: name, value: "(unset)", expected: "a whole number in \(range)")
            }
            guard let n = Int(text), range.contains(n) else { throw .badVariable(name: name, value: text, expected: "a whole number in \(range)") }
            return n
        }
        let size = try number(sizeName, in: 1...1 << 24)
        let rank = try number(rankName, in: 0...size - 1)
        let localSize = try number(localSizeName, in: 1...size, default: 1)
        let localRank = try number(localRankName, in: 0...localSize - 1, default: 0)
        let libraries = environment["VAE_MPI_LIBRARY"].map { [$0] }
            ?? (openMPI ? ["libmpi.so.40", "libmpi.so"] : ["libmpich.so.12", "libmpi.so.12", "libmpich.so", "libmpi.so"])
        return MPILaunch(rank: rank, size: size, localRank: localRank, localSize: localSize, libraries: libraries)
    }
}

/// A failure of the MPI layer; each names what to do.
public enum MPIError: Error, CustomStringConvertible, Equatable {
    case badVariable(name: String, value: String, expected: String)
    case libraryNotLoaded(tried: [String], detail: String)
    case rankMismatch(launcher: Int, library: Int)
    case failed(code: Int32, what: String)
    /// `late`: a rank that never arrived at the exchange; `silent`: one that arrived and then
    /// stopped responding (known when there is only one other rank).
    case timeout(rank: Int, late: Int?, silent: Int?, what: String, seconds: Double)

    public var description: String {
        switch self {
        case .badVariable(let name, let value, let expected):
            "the MPI launcher's variable \(name) is \(value); expected \(expected)"
        case .libraryNotLoaded(let tried, let detail):
            "started by an MPI launcher, but no MPI library could be loaded (tried \(tried.joined(separator: ", ")): \(detail)); install the runtime of the mpirun you use (Debian: libopenmpi3 or libmpich12) or name the library in VAE_MPI_LIBRARY"
        case .rankMismatch(let launcher, let library):
            "the launcher says this is rank \(launcher) but the MPI library says \(library); mpirun and the library in VAE_MPI_LIBRARY must come from the same MPI"
        case .failed(let code, let what):
            "MPI error \(code) during \(what)"
        case .timeout(let rank, let late, let silent, let what, let seconds):
            "rank \(rank): \(what) did not complete within \(Int(seconds)) s (--collective-timeout): "
                + (late.map { "rank \($0) never arrived; it died or hangs" }
                    ?? silent.map { "rank \($0) arrived, then stopped responding; it died or hangs" } ?? "another rank died or hangs") + ". Ending the job."
        }
    }
}

/// The processes of an MPI job as a `ProcessGroup`, over MPI loaded at run time (`dlopen`), so
/// that `vae` needs no MPI to build or to run alone. One per process: MPI starts once.
///
/// Every collective waits at most `timeout` seconds; rank 0 then names a rank that never
/// arrived, and the caller ends the job (`abort`), so a dead or hung rank never hangs the rest.
public final class MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int
    /// "Open MPI" or "MPICH" (the ABI family), and the library's own version line.
    public let implementation: String
    public let version: String
    /// Seconds any collective may wait for the other ranks.
    public var timeout: Double = 300

    /// Loads MPI (the launch's libraries, in order) and starts it.
    public init(_ launch: MPILaunch) throws(MPIError) {
        var errors: [String] = []
        var loaded = false
        for library in launch.libraries where !loaded {
            var message = [CChar](repeating: 0, count: 1024)
            if vae_mpi_load(library, &message, Int32(message.count)) == 0 { loaded = true } else { errors.append(Self.text(message)) }
        }
        guard loaded else { throw .libraryNotLoaded(tried: launch.libraries, detail: errors.last ?? "") }
        var rank: Int32 = 0, size: Int32 = 0
        let code = vae_mpi_init(&rank, &size)
        guard code == 0 else { throw .failed(code: code, what: "MPI_Init_thread") }
        guard Int(rank) == launch.rank else { throw .rankMismatch(launcher: launch.rank, library: Int(rank)) }
        self.rank = Int(rank)
        self.size = Int(size)
        localRank = launch.localRank
        localSize = launch.localSize
        implementation = String(cString: vae_mpi_abi())
        var text = [CChar](repeating: 0, count: 512)
        version = vae_mpi_library_version(&text, Int32(text.count)) == 0 ? Self.text(text) : implementation
    }

    /// A C string filled in by the loader.
    private static func text(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Turns a return code of the loader into a result or an error.
    private func check(_ code: Int32, late: Int32, what: String) throws(MPIError) {
        switch code {
        case 0: return
        case Int32(VAE_MPI_TIMEOUT):
            throw .timeout(rank: rank, late: late >= 0 ? Int(late) : nil, silent: late < 0 && size == 2 ? 1 - rank : nil, what: what, seconds: timeout)
        default: throw .failed(code: code, what: what)
        }
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Float>, scale: Float, what: String) throws {
        var late: Int32 = -1
        try check(vae_mpi_sum_floats(values.baseAddress, Int64(values.count), scale, timeout, &late), late: late, what: what)
    }

    public func sum(_ values: inout [Double], what: String) throws {
        var late: Int32 = -1
        let code = values.withUnsafeMutableBufferPointer { vae_mpi_sum_doubles($0.baseAddress, Int32($0.count), timeout, &late) }
        try check(code, late: late, what: what)
    }

    public func allGather(_ value: UInt64, what: String) throws -> [UInt64] {
        var all = [UInt64](repeating: 0, count: size)
        var late: Int32 = -1
        let code = all.withUnsafeMutableBufferPointer { vae_mpi_gather_u64(value, $0.baseAddress, timeout, &late) }
        try check(code, late: late, what: what)
        return all
    }

    /// Ends every process of the job with `code` (after the caller printed why).
    public func abort(code: Int32 = 1) -> Never {
        vae_mpi_abort(code)
        exit(code)
    }

    /// Shuts MPI down at the end of a successful run.
    public func finish() { _ = vae_mpi_finalize() }
}
