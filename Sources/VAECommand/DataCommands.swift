import ArgumentParser
import Foundation
import VAE

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Latent means and log-variances of a data set to .npy ([N, 2·latent]: means, then log-variances; labels beside) or .csv.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Output: NAME.npy (labels go to NAME.labels.npy) or NAME.csv.") var out = "latents.npy"
    @OptionGroup var output: OutputOptions

    func run() throws {
        try VAECommand.reportingErrors {
            if out.hasSuffix(".csv") {
                try output.check(out, kind: .csv, reads: model)
            } else if out.hasSuffix(".npy") {
                try output.check(out, kind: .npy, reads: model)
                try output.check(String(out.dropLast(4)) + ".labels.npy", kind: .npy, reads: model)
            } else {
                throw ConfigurationError.invalid("--out", out, "a file name ending in .npy or .csv")
            }
            let (session, checkpoint) = try model.load()
            let data = try dataOptions.load(for: session, checkpoint: checkpoint, model: model)
            let (means, logVariances) = try session.encode(data)
            let d = session.architecture.latentSize
            if out.hasSuffix(".csv") {
                var text = "index,label," + (0..<d).map { "mu_\($0)" }.joined(separator: ",") + "," + (0..<d).map { "logvar_\($0)" }.joined(separator: ",") + "\n"
                for i in 0..<data.count {
                    text += "\(i),\(data.labels[i]),"
                    text += (means[i * d..<(i + 1) * d].map { "\($0)" } + logVariances[i * d..<(i + 1) * d].map { "\($0)" }).joined(separator: ",") + "\n"
                }
                try writeTextAtomically(text, to: out)
            } else if out.hasSuffix(".npy") {
                var rows: [Float] = []
                rows.reserveCapacity(2 * means.count)
                for i in 0..<data.count {
                    rows.append(contentsOf: means[i * d..<(i + 1) * d])
                    rows.append(contentsOf: logVariances[i * d..<(i + 1) * d])
                }
                try NumpyFile.write(NumpyFile.encode(rows, shape: [data.count, 2 * d]), to: out)
                let labels = String(out.dropLast(4)) + ".labels.npy"
                try NumpyFile.write(NumpyFile.encode(data.labels, shape: [data.count]), to: labels)
                say("wrote \(out) [\(data.count), \(2 * d)] and \(labels)")
                return
            } else {
                throw ConfigurationError.invalid("--out", out, "a file name ending in .npy or .csv")
            }
            say("wrote \(data.count) rows to \(out)")
        }
    }
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-example anomaly scores to CSV; with --normal-classes, the ROC AUC of telling the other classes apart.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "elbo (−ELBO, one z) or iwae (importance-weighted −log p(x)).") var score = "elbo"
    @Option(help: "Samples K for --score iwae.") var importanceSamples = 1000
    @Option(help: "Classes that count as normal, comma-separated; the rest are anomalies.") var normalClasses: String?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Output CSV.") var out = "scores.csv"
    @OptionGroup var output: OutputOptions

    func run() throws {
        try VAECommand.reportingErrors {
            guard ["elbo", "iwae"].contains(score) else { throw ConfigurationError.invalid("--score", score, "elbo or iwae") }
            try output.check(out, kind: .csv, reads: model)
            let loaded = try model.load()
            var session = loaded.session
            let checkpoint = loaded.checkpoint
            let data = try dataOptions.load(for: session, checkpoint: checkpoint, model: model)
            let normalLabels = try normalClasses.map { try parseLabels($0, flag: "--normal-classes", in: data) }
            // A calibrated Gaussian scores with its σ² from training, not the scored batch's.
            let calibrated = [.calibratedGaussian, .calibratedGaussianPerFeature].contains(session.architecture.decoderLikelihood)
            if calibrated, let text = checkpoint.metadata[CalibratedVariances.metadataKey] {
                let d = session.architecture.exampleSize
                guard let values = CalibratedVariances.parse(text), values.count == 1 || values.count == d else {
                    throw CheckpointError.badMetadata(path: model.file, field: CalibratedVariances.metadataKey, value: String(text.prefix(80)),
                                                      expected: "one positive number, or \(d) (one per feature) separated by commas")
                }
                var parameters: [String: [Float]] = [:]
                for name in checkpoint.names where !name.hasPrefix("optimizer.") && !name.hasPrefix("metrics.") {
                    parameters[name] = checkpoint[name]?.values
                }
                let architecture = try GivenVarianceArchitecture(session.architecture,
                                                                 variances: values.count == 1 ? Array(repeating: values[0], count: d) : values)
                session = try InferenceSession(architecture: architecture, parameters: parameters, backend: try model.backendOptions.make())
                say(values.count == 1 ? String(format: "scoring with the calibrated σ² = %.4g from training (each score independent of the others)", values[0])
                    : String(format: "scoring with the calibrated σ² per feature from training (%.3g to %.3g; each score independent of the others)",
                             values.min() ?? 0, values.max() ?? 0))
            }
            if let normalLabels, let normalClasses {
                // Both groups must be present, or the AUC means nothing.
                try data.checkLabels(normalLabels, flag: "--normal-classes")
                guard Set(data.labelValues).subtracting(normalLabels).count > 0 else {
                    throw DataError.uselessLabelSelection(flag: "--normal-classes", value: normalClasses,
                                                          detail: "names every label the data has (\(data.labelValues.map(String.init).joined(separator: ","))): no example is left to count as an anomaly")
                }
            }
            let values: [Double]
            if score == "elbo" {
                values = try session.exampleScores(data, seed: seed).negativeELBO
            } else {
                let progress = CountProgress(total: data.count, label: "importance sampling", detail: "K = \(importanceSamples) samples each")
                values = try session.importanceWeightedNegativeLogLikelihood(data, samples: importanceSamples, seed: seed, progress: progress.callAsFunction)
            }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ScoreError.nonFinite(count: values.filter { !$0.isFinite }.count, first: bad, value: values[bad], checkpoint: model.file)
            }
            var text = "index,label,score\n"
            for i in values.indices { text += "\(i),\(csvField(data.labelText(data.labels[i]))),\(values[i])\n" }
            try writeTextAtomically(text, to: out)
            say("wrote \(values.count) scores (\(score), nats; higher is more anomalous) to \(out)")
            if let normalLabels, let normalClasses {
                let normal = Set(normalLabels)
                let anomalous = data.labels.map { !normal.contains($0) }
                guard let auc = rocAUC(scores: values, positive: anomalous) else {
                    throw ConfigurationError.invalid("--normal-classes", normalClasses, "classes that leave both normal and anomalous examples in the data")
                }
                say(String(format: "ROC AUC %.4f (%d anomalous of %d)", auc, anomalous.filter { $0 }.count, anomalous.count))
            }
        }
    }
}

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Draw a run's loss curves (metrics.csv) as an SVG chart.")

    @Option(name: .customLong("run"), help: "Run folder holding metrics.csv.") var folder = "runs/fashion-mnist"
    @Option(help: "Output SVG (default: RUN/loss.svg).") var out: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        try VAECommand.reportingErrors {
            let metrics = FileSystem.join(folder, RunFolder.metrics)
            guard FileSystem.exists(metrics) else { throw DataError.missing(path: metrics) }
            let text = try FileSystem.read(metrics)
            let path = out ?? FileSystem.join(folder, "loss.svg")
            try OutputGuard.check(path, kind: .svg, reads: [metrics], overwrite: output.overwrite)
            let plot = LossPlot(metricsCSV: String(decoding: text, as: UTF8.self))
            try writeTextAtomically(plot.svg(), to: path)
            if plot.skipped > 0 { say("skipped \(plot.skipped) values of \(metrics) that are not finite numbers (nan or inf)") }
            say("wrote \(path)")
        }
    }
}

/// Scores that cannot rank anything.
enum ScoreError: Error, CustomStringConvertible {
    case nonFinite(count: Int, first: Int, value: Double, checkpoint: String)

    var description: String {
        switch self {
        case .nonFinite(let count, let first, let value, let checkpoint):
            "\(count) scores are not finite (example \(first) scores \(value)): the model in \(checkpoint) overflows on this data, so no scores or ROC AUC are written"
        }
    }
}

/// Labels a flag lists, comma-separated: numbers, or the texts of a table's label column.
func parseLabels(_ text: String, flag: String, in data: Dataset) throws -> [Int] {
    guard let names = data.labelNames else { return try parseList(text, flag: flag) }
    return try text.split(separator: ",").map { part in
        let name = part.trimmingCharacters(in: .whitespaces)
        guard let l = names.firstIndex(of: name) else {
            throw ConfigurationError.invalid(flag, text, "labels of the data, comma-separated: \(names.joined(separator: ", "))")
        }
        return l
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    s.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// The σ² a calibrated model measured on its training set, kept in checkpoint metadata as one
/// number or one per feature, comma-separated.
enum CalibratedVariances {
    static let metadataKey = "calibrated_variance"

    static func text(_ values: [Double]) -> String { values.map { String($0) }.joined(separator: ",") }

    /// The values, when every one is a positive finite number.
    static func parse(_ text: String) -> [Float]? {
        let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite && $0! > 0 }) else { return nil }
        return values.compactMap { $0 }
    }
}
