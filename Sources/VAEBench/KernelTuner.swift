import Engine
import OpenCLBackend
import VAE

/// `vae tune`'s search: each candidate kernel configuration of a device (`KernelTuning
/// .candidates`) is built, its products and convolutions checked against the CPU backend
/// (`KernelCheck`), and whole training steps of the model at hand timed; the fastest correct
/// one wins. Bounded by the candidate count (about two dozen at most).
public enum KernelTuner {
    /// One candidate's outcome: seconds per training step, or why it was rejected.
    public struct Trial: Sendable {
        public var tuning: KernelTuning
        /// Whether this is the configuration the device gets without tuning.
        public var isDefault: Bool
        public var step: Timing?
        public var rejected: String?
    }

    /// Tries up to `limit` candidates on `device` with `steps` training steps of `model` at
    /// `batch` each; `progress` gets each trial as it finishes. The default configuration is
    /// always among them.
    public static func run(device: OpenCLDevice, model: ModelConfiguration, batch: Int, steps: Int, limit: Int,
                           progress: (Trial) -> Void = { _ in }) throws -> [Trial] {
        let base = KernelTuning.standard(for: device)
        var candidates = KernelTuning.candidates(for: device, limit: limit)
        if !candidates.contains(base) { candidates[candidates.count - 1] = base }
        var trials: [Trial] = []
        for tuning in candidates {
            var trial = Trial(tuning: tuning, isDefault: tuning == base)
            do {
                let backend = try OpenCLBackend(device: device, tuning: tuning)
                if let bad = try KernelCheck(backend).run(productsOnly: true).first(where: { !$0.passes }) {
                    trial.rejected = "\(bad.op) \(bad.shapes) differs from the CPU by \(bad.difference)"
                } else {
                    trial.step = try measureTrainingStep(on: backend, batch: batch, steps: steps, model: model)
                }
            } catch {
                trial.rejected = "\(error)"
            }
            trials.append(trial)
            progress(trial)
        }
        return trials
    }

    /// The fastest correct trial (by median step time).
    public static func best(_ trials: [Trial]) -> Trial? {
        trials.filter { $0.step != nil }.min { $0.step!.median < $1.step!.median }
    }
}
