import ArgumentParser
import Foundation
import VAE

/// `vae gradients`: a checkpoint's training-loss gradients on a few batches, written as .npy
/// files for an independent recomputation (Benchmarks/gradient_audit.py, float64 PyTorch).
struct Gradients: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the training loss's gradients on the first batches of the data, with each batch and its noise, as .npy files (for checking them against another implementation).",
        discussion: """
            Batch k (examples k·B ..< (k + 1)·B of the data, in order) goes to DIR/batch-k.x.npy [B, …], \
            DIR/batch-k.noise.npy [B, latent] (ε of z = μ + σ ⊙ ε), DIR/batch-k.loss.npy [1] (mean −ELBO, nats) \
            and DIR/batch-k.NAME.npy for each parameter NAME of the checkpoint (∂loss/∂NAME, its shape). \
            The loss is the training run's (β and KL estimator from the checkpoint), one z per example. \
            Benchmarks/gradient_audit.py recomputes them in float64.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(name: .customLong("batch-size"), help: "Examples per batch.") var batchSize = 128
    @Option(help: "Batches, from the start of the data.") var batches = 20
    @Option(help: "Random seed of the z samples.") var seed: UInt64 = 0
    @Option(help: "Folder for the .npy files (created if missing).") var out = "gradients"
    @OptionGroup var output: OutputOptions

    func run() throws {
        try VAECommand.reportingErrors {
            if FileStatus(out).map({ $0.kind != .directory }) == true {
                throw FileError.notWritable(path: out, reason: "it is a file; --out takes a folder")
            }
            let (session, checkpoint) = try model.load()
            let data = try dataOptions.load(for: session, checkpoint: checkpoint, model: model)
            let training = try CheckpointFormat.configurations(checkpoint, path: model.file).1 ?? TrainingConfiguration()
            try FileSystem.createDirectories(out)
            let rows = [batchSize]
            var parameters = 0
            try session.lossGradients(data, batch: batchSize, batches: batches, seed: seed, beta: training.beta, kl: training.kl) { k, batch in
                var files: [(String, Data)] = [
                    ("x", NumpyFile.encode(batch.images, shape: rows + session.architecture.exampleShape)),
                    ("noise", NumpyFile.encode(batch.noise, shape: rows + [session.architecture.latentSize])),
                    ("loss", NumpyFile.encode([batch.loss], shape: [1])),
                ]
                parameters = batch.gradients.count
                files += batch.gradients.map { ($0.name, NumpyFile.encode($0.values, shape: $0.shape)) }
                for (name, data) in files {
                    let path = FileSystem.join(out, "batch-\(k).\(name).npy")
                    try output.check(path, kind: .npy, reads: model)
                    try NumpyFile.write(data, to: path)
                }
            }
            say("wrote \(batches) batches of \(batchSize) to \(out) (x, noise, loss and \(parameters) gradients each)")
        }
    }
}
