import ArgumentParser
import Foundation
import OpenCLBackend
import VAEBench

/// `vae check-kernels`: every OpenCL kernel on a device against the CPU backend.
struct CheckKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-kernels",
        abstract: "Run every OpenCL kernel on small awkward shapes and compare each result with the CPU backend's (a driver check).")

    @Option(help: "OpenCL device: an index from `vae devices` or part of its name (default: the first GPU, else the first device).")
    var device: String?
    @Option(help: "Kernel structure: cpu (register blocks), gpu (local-memory tiles), both, or device (the one the device's type gets).")
    var structure = "both"
    @Flag(help: "Print every op's result, not only failures.") var verbose = false

    func run() throws {
        try VAECommand.reportingErrors {
            let structures: [KernelStructure?]
            switch structure {
            case "both": structures = KernelStructure.allCases
            case "device": structures = [nil]
            default:
                guard let one = KernelStructure(rawValue: structure) else {
                    throw ValidationError("--structure \(structure) is not one of cpu, gpu, both, device")
                }
                structures = [one]
            }
            let openCLDevice = try OpenCLDevice.select(device)
            var failures = 0
            var backends: [OpenCLBackend] = []
            for choice in structures {
                let backend = try OpenCLBackend(device: openCLDevice, structure: choice)
                backends.append(backend)
                if backend.structure == .gpu {  // gemm_tiled's loads in both forms: scalar and float4
                    backends.append(try OpenCLBackend(device: openCLDevice, tuning: .standardGPUWithOtherLoads(for: openCLDevice)))
                } else if let width = backend.registerWidth {  // the register tiles in both widths: float8 and float16
                    backends.append(try OpenCLBackend(device: openCLDevice, structure: .cpu, registerWidth: width == 16 ? 8 : 16))
                }
            }
            for backend in backends {
                let check = KernelCheck(backend)
                let results = try check.run { result in
                    let line = String(format: "%@ %@: relative difference %.2g", result.op, result.shapes, result.difference)
                    if !result.passes { Console.err("MISMATCH \(line)\n") } else if verbose { say(line) }
                }
                let bad = results.filter { !$0.passes }.count
                let missing = check.unlaunchedKernels
                let kernels = OpenCLBackend.kernelNames(for: backend.structure).count
                if !missing.isEmpty { Console.err("not launched by the check: \(missing.joined(separator: ", "))\n") }
                failures += bad + missing.count
                let loads = backend.gemmLoadWidth.map { " (gemm_tiled loads of \($0))" } ?? backend.registerWidth.map { " (vectors of \($0))" } ?? ""
                say("\(openCLDevice.summary), \(backend.structure.rawValue) kernels\(loads): \(results.count - bad) of \(results.count) ops within "
                    + "\(KernelCheck.tolerance) of the CPU backend; \(kernels - missing.count) of its \(kernels) kernels launched")
            }
            if failures > 0 { throw ExitCode(1) }
        }
    }
}
