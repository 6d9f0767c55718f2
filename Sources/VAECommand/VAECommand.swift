import ArgumentParser
import CPUBackend
import Engine
import Foundation
import OpenCLBackend
import VAE

@main
struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Train and use variational autoencoders on OpenCL devices or the CPU.",
        subcommands: [Train.self, Evaluate.self, Sample.self, Reconstruct.self, Interpolate.self, Encode.self, Score.self, Plot.self, Bench.self, Devices.self])

    /// Runs a command body; a known error is printed as one message with exit code 1, no trace.
    static func reportingErrors(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as CleanExit {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// Prints a line at once (unbuffered, also into a file or pipe, so progress shows as it happens).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
    case opencl, cpu
}

struct BackendOptions: ParsableArguments {
    @Option(help: "Where to run: opencl or cpu (default: OpenCL when a device exists, else the CPU).")
    var backend: BackendChoice?

    @Option(help: "OpenCL device: an index from `vae devices` or part of its name (default: the first GPU, else the first device).")
    var device: String?

    /// The chosen backend; with no --backend, falls back to the CPU with a notice when no
    /// OpenCL platform exists.
    func make() throws -> any Backend {
        switch backend {
        case .cpu:
            return CPUBackend()
        case .opencl:
            return try OpenCLBackend(device: device)
        case nil:
            do {
                return try OpenCLBackend(device: device)
            } catch OpenCLError.noPlatform {
                FileHandle.standardError.write(Data("note: no OpenCL device found; using the CPU backend (install pocl-opencl-icd or a GPU driver for OpenCL)\n".utf8))
                return CPUBackend()
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
