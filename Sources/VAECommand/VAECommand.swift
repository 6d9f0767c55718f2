import ArgumentParser
import CPUBackend
import DataParallel
import Engine
import Foundation
import OpenCLBackend
import VAE

@main
struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Train and use variational autoencoders on OpenCL devices or the CPU.",
        subcommands: [Train.self, Evaluate.self, Sample.self, Reconstruct.self, Interpolate.self, Encode.self, Score.self, Gradients.self, Plot.self, Bench.self, Devices.self, CheckKernels.self, Tune.self])

    static func main() {
        BLASKernels.restartWithPreferredKernels()
        Console.prepareProcess()
        let arguments = Console.arguments
        refuseParallelLaunch(of: arguments.first)
        main(arguments)
        // A command whose result was printed nowhere did not do its job (a training run's
        // result is its checkpoint, so it still succeeds).
        if Console.lostOutput && arguments.first != "train" { Foundation.exit(1) }
    }

    /// Only `train` and `evaluate` run as one job of several MPI processes; any other command
    /// started by `mpirun -np N` (N > 1) would run N times over the same outputs, so it stops
    /// with a message instead (MPI is not loaded for that).
    static func refuseParallelLaunch(of command: String?) {
        guard let command, !["train", "evaluate"].contains(command), !command.hasPrefix("-") else { return }
        do {
            guard let launch = try MPILaunch.detect(), launch.size > 1 else { return }
            Console.err("error: vae \(command) runs as one process (only train and evaluate run as an MPI job of several); start it without mpirun, or with -np 1 (this is rank \(launch.rank) of \(launch.size))\n")
        } catch {
            Console.err("error: \(error)\n")
        }
        Foundation.exit(1)
    }

    /// Runs a command body; a known error is printed as one message with exit code 1, no trace.
    static func reportingErrors(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as CleanExit {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            Console.err("error: \(error)\n")
            throw ExitCode.failure
        }
    }
}


enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
    case opencl, cpu
}

struct BackendOptions: ParsableArguments {
    @Option(help: "Where to run: opencl or cpu (default: OpenCL when a device exists, else the CPU).")
    var backend: BackendChoice?

    @Option(help: "OpenCL device: an index from `vae devices` or part of its name (default: the first GPU, else the first device).")
    var device: String?

    private func openCL() throws -> OpenCLBackend {
        let backend = try OpenCLBackend(device: device)
        if let note = backend.kernelCacheNote { Console.err("note: \(note)\n") }
        return backend
    }

    /// The chosen backend; with no --backend, falls back to the CPU with a notice when no
    /// OpenCL platform exists.
    func make(cpuThreads: Int? = nil) throws -> any Backend {
        switch backend {
        case .cpu:
            return CPUBackend(threads: cpuThreads)
        case .opencl:
            return try openCL()
        case nil:
            do {
                return try openCL()
            } catch OpenCLError.noPlatform {
                Console.err("note: no OpenCL device found; using the CPU backend (install pocl-opencl-icd or a GPU driver for OpenCL)\n")
                return CPUBackend(threads: cpuThreads)
            }
        }
    }
}

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the OpenCL devices.")

    func run() throws {
        try VAECommand.reportingErrors {
            for (i, device) in try OpenCLDevice.all().enumerated() { say("\(i): \(device)") }
        }
    }
}
