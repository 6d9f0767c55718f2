import ArgumentParser
import DataParallel
import Engine
import Foundation
import OpenCLBackend
import VAE

/// Flags of the commands that run as one MPI job under `mpirun -np N` (train, evaluate).
struct ParallelOptions: ParsableArguments {
    @Option(help: "Under mpirun: seconds a rank waits for the others at an exchange before it ends the job, naming a rank that never arrived.")
    var collectiveTimeout: Double = 300

    /// Starts MPI when an MPI launcher started this process with more than one rank; nil
    /// otherwise (then MPI is never loaded and the command is the single-process one). Ranks
    /// other than 0 print nothing to standard output, and each rank's OpenCL on a CPU device
    /// (PoCL) gets its share of the host's cores.
    func start() throws -> MPIProcessGroup? {
        guard collectiveTimeout.isFinite, collectiveTimeout > 0 else {
            throw ConfigurationError.invalid("--collective-timeout", "\(collectiveTimeout)", "a positive number of seconds")
        }
        guard let launch = try MPILaunch.detect(), launch.size > 1 else { return nil }
        if ProcessInfo.processInfo.environment["POCL_MAX_PTHREAD_COUNT"] == nil {
            setenv("POCL_MAX_PTHREAD_COUNT", String(Self.cores(localSize: launch.localSize)), 1)
        }
        let group = try MPIProcessGroup(launch)
        group.timeout = collectiveTimeout
        if group.rank != 0 { Console.silenceStandardOutput() }
        return group
    }

    /// Runs `body` as one rank of `group` (or alone when nil). Any error on any rank is
    /// printed with the rank and ends the whole job (MPI_Abort), so no rank waits for one that
    /// has stopped; a run that ends normally shuts MPI down.
    static func run(_ group: MPIProcessGroup?, _ body: () throws -> Void) throws {
        guard let group else { return try body() }
        do {
            try body()
        } catch let error as ExitCode {
            group.finish()
            throw error
        } catch {
            Console.err("error (rank \(group.rank) of \(group.size)): \(error)\n")
            group.abort()
        }
        group.finish()
    }

    /// Cores for each of `localSize` processes on this host.
    static func cores(localSize: Int) -> Int { max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, localSize)) }
}

extension BackendOptions {
    /// The backend of one rank: the CPU backend with its share of the host's cores, or the
    /// OpenCL device of its local rank: entry (local rank mod count) of a comma-separated
    /// --device list, else, with no --device and several GPUs, GPU (local rank mod GPUs).
    func make(for group: MPIProcessGroup?) throws -> any Backend {
        guard let group else { return try make() }
        var options = self
        if let list = device?.split(separator: ",").map(String.init), list.count > 1 {
            options.device = list[group.localRank % list.count]
        } else if device == nil, backend != .cpu, let devices = try? OpenCLDevice.all() {
            let gpus = devices.indices.filter { devices[$0].isGPU }
            if gpus.count > 1 { options.device = String(gpus[group.localRank % gpus.count]) }
        }
        return try options.make(cpuThreads: ParallelOptions.cores(localSize: group.localSize))
    }
}
