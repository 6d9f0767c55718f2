import ArgumentParser
import DataParallel
import Engine
import Foundation
import VAE

/// The trained model a command uses, and where it runs.
struct ModelOptions: ParsableArguments {
    @Option(help: "A checkpoint: a .safetensors file, or a run folder holding model.safetensors.")
    var checkpoint: String

    @OptionGroup var backendOptions: BackendOptions

    /// The checkpoint file itself.
    var file: String { CheckpointFormat.file(at: checkpoint) }

    func session() throws -> InferenceSession { try load().session }

    /// The session and the checkpoint it came from (read once: data commands also need its metadata).
    func load(backend make: (BackendOptions) throws -> any Backend = { try $0.make() }) throws -> (session: InferenceSession, checkpoint: Checkpoint) {
        let checkpoint = try Checkpoint(contentsOf: file)
        return (try InferenceSession(checkpoint: checkpoint, path: file, backend: try make(backendOptions)), checkpoint)
    }
}

/// Where a command writes its result, guarded so it never replaces what a user trained or collected.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Replace an existing --out file even when it is not an earlier output of this command (a checkpoint, a run's metrics, data).")
    var overwrite = false

    /// Throws unless `path` may be written (see `OutputGuard`).
    func check(_ path: String, kind: OutputKind, reads model: ModelOptions? = nil) throws {
        try OutputGuard.check(path, kind: kind, reads: model.map { [$0.file] } ?? [], overwrite: overwrite)
    }
}

/// The data a command reads, prepared as the model's training data was (see `DataPreprocessing`).
struct DataOptions: ParsableArguments {
    @Option(help: "Data in the model's training format: a folder of MNIST-format IDX files, a .npy array or a .csv table.")
    var data = Dataset.fashionMNISTDirectory
    @Option(help: "IDX folders: train or test.") var split = "test"
    @Option(help: ".npy: a .npy file of integer labels, one per example of --data.") var labels: String?
    @Option(help: "Use only the first N examples.") var limit: Int?

    func load(for session: InferenceSession, checkpoint: Checkpoint, model: ModelOptions) throws -> Dataset {
        guard let which = Dataset.Split(rawValue: split) else { throw ConfigurationError.invalid("--split", split, "train or test") }
        let preprocessing = try CheckpointFormat.preprocessing(checkpoint, inputSize: session.architecture.exampleSize, path: model.file)
            ?? DataPreprocessing(format: .idx)
        let source = preprocessing.source(path: data, labelsPath: labels)
        guard try source.format() == preprocessing.format else {
            throw ConfigurationError.invalid("--data", data, "data in the format the model was trained on (\(preprocessing.format.rawValue))")
        }
        var set = try source.load(split: which)
        if let limit {
            guard limit > 0 else { throw ConfigurationError.invalid("--limit", "\(limit)", "a positive number of examples") }
            set = set.prefix(limit)
        }
        guard set.exampleSize == session.architecture.exampleSize else {
            throw DataError.inputSizeMismatch(dataSize: set.exampleSize, modelSize: session.architecture.exampleSize)
        }
        preprocessing.apply(to: &set)
        return set
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "−ELBO (sampled z and z = μ) and the importance-weighted −log p(x), in nats per example.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Samples K of the importance-weighted estimate (0 skips it).") var importanceSamples = 5000
    @Option(help: "Random seed of the z samples.") var seed: UInt64 = 0
    @Flag(help: "Print JSON instead of a table.") var json = false
    @OptionGroup var parallel: ParallelOptions

    func run() throws {
        try VAECommand.reportingErrors {
            guard (0...InferenceSession.maxImportanceSamples).contains(importanceSamples) else {
                throw ConfigurationError.invalid("--importance-samples", "\(importanceSamples)", "0 (skip) or a number of samples up to \(InferenceSession.maxImportanceSamples)")
            }
            let group = try parallel.start()
            try ParallelOptions.run(group) { try evaluate(group: group) }
        }
    }

    /// One process, or rank `group.rank` of an MPI job: each rank takes its share of the
    /// examples (whole batches; the draws are those of one process) and the sums are combined.
    private func evaluate(group: MPIProcessGroup?) throws {
        let (session, checkpoint) = try model.load(backend: { try $0.make(for: group) })
        let data = try dataOptions.load(for: session, checkpoint: checkpoint, model: model)
        let share = group?.share(of: data.count) ?? 0..<data.count
        // Said at once, so a long evaluation is visibly under way from its first second.
        let progress = importanceSamples > 0 && (group?.rank ?? 0) == 0
            ? CountProgress(total: share.count, label: "importance sampling", detail: "K = \(importanceSamples) samples each, after the −ELBO"
                            + (group.map { " (rank 0's \(share.count) of \(data.count); \($0.size) ranks)" } ?? "")) : nil
        let sampled = try session.negativeELBO(data, seed: seed, group: group)
        let mean = try session.negativeELBO(data, seed: seed, meanLatent: true, group: group)
        var iwae: Double?
        if importanceSamples > 0 {
            progress?.restart()
            let values = try session.importanceWeightedNegativeLogLikelihood(data, samples: importanceSamples, seed: seed, examples: share,
                                                                              progress: { progress?($0) })
            var sums = [values.reduce(0, +)]
            try group?.sum(&sums, what: "the importance-weighted sums")
            iwae = sums[0] / Double(data.count)
        }
        if json {
            var object: [String: Any] = [
                "examples": data.count, "split": dataOptions.split, "data": dataOptions.data,
                "negative_elbo": sampled.negativeELBO, "reconstruction": sampled.reconstruction, "kl": sampled.kl,
                "mean_z": ["negative_elbo": mean.negativeELBO, "reconstruction": mean.reconstruction, "kl": mean.kl],
            ]
            if let iwae { object["negative_log_likelihood"] = iwae; object["importance_samples"] = importanceSamples }
            let text = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            say(String(decoding: text, as: UTF8.self))
        } else {
            say("\(data.count) examples (\(dataOptions.split)) from \(dataOptions.data); nats per example")
            say(String(format: "−ELBO, sampled z   %9.3f   (reconstruction %.3f + KL %.3f)", sampled.negativeELBO, sampled.reconstruction, sampled.kl))
            say(String(format: "−ELBO, z = μ       %9.3f   (reconstruction %.3f + KL %.3f)", mean.negativeELBO, mean.reconstruction, mean.kl))
            if let iwae { say(String(format: "−log p(x), K = %-4d %9.3f   (importance-weighted)", importanceSamples, iwae)) }
        }
    }
}

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode z ~ N(0, T²I) into a PNG grid (or the latent plane with --manifold).")

    @OptionGroup var model: ModelOptions
    @Option(help: "Number of images.") var count = 64
    @Option(help: "Scale of the prior's standard deviation.") var temperature: Float = 1
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Flag(help: "For a 2-dimensional latent: decode a grid over the latent plane (normal quantiles).") var manifold = false
    @Option(help: "Images per side of the --manifold grid.") var grid = 20
    @Option(help: "Output PNG.") var out = "samples.png"
    @OptionGroup var output: OutputOptions

    func run() throws {
        try VAECommand.reportingErrors {
            guard temperature.isFinite, temperature >= 0 else {
                throw ConfigurationError.invalid("--temperature", "\(temperature)", "a finite number ≥ 0")
            }
            if manifold {
                guard grid > 0 else { throw ConfigurationError.invalid("--grid", "\(grid)", "a positive number") }
            } else {
                guard count > 0 else { throw ConfigurationError.invalid("--count", "\(count)", "a positive number") }
            }
            try output.check(out, kind: .png, reads: model)
            let session = try model.session()
            let d = session.architecture.latentSize
            let rows = manifold ? Double(grid) * Double(grid) : Double(count)
            try MemoryBudget.checkInference(model: session.architecture, rows: rows, flag: manifold ? "--grid \(grid)" : "--count \(count)",
                                            limits: session.memoryLimits, hostBytesPerRow: pictureBytesPerImage(session.architecture))
            var z: [Float]
            var n: Int
            if manifold {
                guard d == 2 else { throw ConfigurationError.invalid("--manifold", "with a \(d)-dimensional latent", "a model with --latent 2") }
                n = grid * grid
                z = []
                for row in 0..<grid {
                    for column in 0..<grid {
                        // Rows run from high to low z₂, so the picture reads like a plot.
                        z.append(Float(normalQuantile((Double(column) + 0.5) / Double(grid))) * temperature)
                        z.append(Float(normalQuantile(1 - (Double(row) + 0.5) / Double(grid))) * temperature)
                    }
                }
            } else {
                n = count
                z = Philox.normals(count: n * d, seed: seed, sample: 0x5A3D).map { $0 * temperature }
            }
            let side = imageSide(session.architecture.exampleSize)
            try ImageGrid(columns: manifold ? grid : Int(Double(n).squareRoot().rounded(.up)), imageHeight: side.0, imageWidth: side.1)
                .write(try session.decode(z, count: n), count: n, to: out)
            say("wrote \(n) images to \(out)")
        }
    }
}

struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Images and their reconstructions (z = μ) side by side in a PNG.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Number of images.") var count = 16
    @Option(help: "Index of the first image.") var start = 0
    @Option(help: "Output PNG.") var out = "reconstructions.png"
    @OptionGroup var output: OutputOptions

    func run() throws {
        try VAECommand.reportingErrors {
            try output.check(out, kind: .png, reads: model)
            let (session, checkpoint) = try model.load()
            let data = try dataOptions.load(for: session, checkpoint: checkpoint, model: model)
            guard count > 0, start >= 0, start < data.count, count <= data.count - start else {
                throw ConfigurationError.invalid("--start/--count", "\(start)/\(count)", "a range inside the \(data.count) examples")
            }
            let size = data.exampleSize
            let originals = Array(data.images[start * size..<(start + count) * size])
            let rebuilt = try session.reconstruct(originals, count: count)
            // Each row: an image, then its reconstruction.
            var pairs: [Float] = []
            for i in 0..<count {
                pairs.append(contentsOf: originals[i * size..<(i + 1) * size])
                pairs.append(contentsOf: rebuilt[i * size..<(i + 1) * size])
            }
            try ImageGrid(columns: 8, imageHeight: data.imageShape.height, imageWidth: data.imageShape.width).write(pairs, count: 2 * count, to: out)
            say("wrote \(count) images and their reconstructions to \(out)")
        }
    }
}

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode linear and spherical paths between the latent means of two images (PNG, two rows).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Index of the first image.") var from = 0
    @Option(help: "Index of the second image.") var to = 1
    @Option(help: "Images along each path, both ends included.") var steps = 10
    @Option(help: "Output PNG.") var out = "interpolation.png"
    @OptionGroup var output: OutputOptions

    func run() throws {
        try VAECommand.reportingErrors {
            guard steps >= 2 else { throw ConfigurationError.invalid("--steps", "\(steps)", "at least 2") }
            try output.check(out, kind: .png, reads: model)
            let (session, checkpoint) = try model.load()
            try MemoryBudget.checkInference(model: session.architecture, rows: 2 * Double(steps), flag: "--steps \(steps)",
                                            limits: session.memoryLimits, hostBytesPerRow: pictureBytesPerImage(session.architecture))
            let data = try dataOptions.load(for: session, checkpoint: checkpoint, model: model)
            for (flag, index) in [("--from", from), ("--to", to)] where !(0..<data.count).contains(index) {
                throw ConfigurationError.invalid(flag, "\(index)", "an index below \(data.count)")
            }
            let size = data.exampleSize
            var ends = Array(data.images[from * size..<(from + 1) * size])
            ends.append(contentsOf: data.images[to * size..<(to + 1) * size])
            let (means, _) = try session.encode(Dataset(images: ends, labels: [0, 0], exampleSize: size, imageShape: data.imageShape))
            let d = session.architecture.latentSize
            let a = Array(means[0..<d]), b = Array(means[d..<2 * d])
            let path = (interpolate(a, b, steps: steps, spherical: false) + interpolate(a, b, steps: steps, spherical: true)).flatMap { $0 }
            try ImageGrid(columns: steps, imageHeight: data.imageShape.height, imageWidth: data.imageShape.width)
                .write(try session.decode(path, count: 2 * steps), count: 2 * steps, to: out)
            say("wrote linear (top) and spherical (bottom) paths from image \(from) to \(to) to \(out)")
        }
    }
}

/// Host bytes one image takes in a picture: its decoded values, their copy and its grid pixels.
func pictureBytesPerImage(_ m: any VAEArchitecture) -> Double {
    let (h, w) = imageSide(m.exampleSize)
    return 8 * Double(m.exampleSize) + 4 * Double(m.latentSize) + Double((h + 2) * (w + 2))
}

/// Height and width of square images of `size` pixels (or one row when not square).
func imageSide(_ size: Int) -> (Int, Int) {
    let side = Int(Double(size).squareRoot().rounded())
    return side * side == size ? (side, side) : (1, size)
}
