import ArgumentParser
import VAEBench

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure GEMM, memory-bound ops, a training step and launch overhead on your device, beside OpenBLAS and the machine's peak.")

    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "The machine's peak GFLOP/s (default: measured with an FMA loop).") var peak: Double?
    @Flag(help: "Fewer shapes and steps.") var quick = false
    @Flag(help: "Only measure and print the machine's peak (the FMA loop on all cores).") var peakOnly = false

    func run() throws {
        try VAECommand.reportingErrors {
            if let peak, !(peak.isFinite && peak > 0) {
                throw ValidationError("--peak \(peak) is not a positive number of GFLOP/s")
            }
            if peakOnly {
                return say(String(format: "peak: %.0f GFLOP/s (FMA loop, %@, all cores)", measurePeakGFLOPS(), peakInstructionSet))
            }
            _ = try BenchReport.run(on: try backendOptions.make(), peakGFLOPS: peak, quick: quick, log: say)
        }
    }
}
