import ArgumentParser
import Foundation
import OpenCLBackend
import VAE
import VAEBench

/// `vae tune`: measures kernel configurations on a device and stores the fastest correct one.
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search the OpenCL kernel configurations (structure, GEMM tiles) of a device for a model's training step; the fastest correct one is stored and used from then on.")

    @Option(help: "OpenCL device: an index from `vae devices` or part of its name (default: the first GPU, else the first device).")
    var device: String?
    @Option(help: "The model to tune for: mlp (784-400-20) or conv (the default conv VAE), on 28×28 images.") var architecture = "mlp"
    @Option(help: "Examples per training step.") var batchSize = 128
    @Option(help: "Training steps timed per candidate (three repetitions each).") var steps = 8
    @Option(help: "Most candidates to try.") var candidates = 24
    @Flag(help: "Delete the device's tuned configuration (back to the defaults) and stop.") var forget = false

    func run() throws {
        try VAECommand.reportingErrors {
            guard let kind = ArchitectureKind(rawValue: architecture) else { throw ValidationError("--architecture \(architecture) is not mlp or conv") }
            guard batchSize > 0, steps > 0, candidates > 0 else { throw ValidationError("--batch-size, --steps and --candidates must be positive") }
            let openCLDevice = try OpenCLDevice.select(device)
            if forget {
                KernelTuning.forget(for: openCLDevice)
                say("forgot the tuned kernel configuration of \(openCLDevice.summary)")
                return
            }
            var model = ModelConfiguration()
            model.architecture = kind
            say("tuning \(openCLDevice.summary) for \(model.summary) training steps of \(batchSize)")
            var done = 0
            let trials = try KernelTuner.run(device: openCLDevice, model: model, batch: batchSize, steps: steps, limit: candidates) { trial in
                done += 1
                let time = trial.step.map { String(format: "%.2f ms per step", $0.median * 1e3) } ?? "rejected: \(trial.rejected ?? "")"
                say("[\(done)] \(trial.tuning)\(trial.isDefault ? " (default)" : ""): \(time)")
            }
            guard let best = KernelTuner.best(trials) else { throw ValidationError("no configuration passed the check against the CPU on \(openCLDevice.name)") }
            let file = try best.tuning.store(for: openCLDevice)
            if let base = trials.first(where: \.isDefault)?.step, let tuned = best.step {
                say(String(format: "best: %@: %.2f ms per step against %.2f ms for the default (%.2f×); stored in %@",
                           best.tuning.description, tuned.median * 1e3, base.median * 1e3, base.median / tuned.median, file.path))
            } else {
                say("best: \(best.tuning); stored in \(file.path)")
            }
        }
    }
}
