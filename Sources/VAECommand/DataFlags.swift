import ArgumentParser
import Foundation
import VAE

/// How `--data` is read, for every format (see `DataSource`).
struct DataReading: ParsableArguments {
    @Option(help: "CSV: the column holding labels (numbers or text such as benign/malignant); it is not a feature.")
    var labelColumn: String?
    @Option(help: "CSV: columns to leave out, comma-separated.") var dropColumns: String?
    @Option(help: ".npy: a .npy file of integer labels, one per example of --data.") var labels: String?
    @Flag(help: ".npy of rank 4: the array is [N, C, H, W] (default: [N, H, W, C], as NumPy images usually are).")
    var channelsFirst = false

    /// How to read `path` when no checkpoint says it.
    func source(_ path: String, labels: String?) -> DataSource {
        let drops = dropColumns.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        return DataSource(path: path, columns: TableColumns(labelColumn: labelColumn, dropColumns: drops), labelsPath: labels,
                          channelsFirst: channelsFirst)
    }
}

extension Dataset {
    /// A seeded split into (training, test): `fraction` of the examples, at least one and at
    /// most all but one, drawn by `Shuffle` go to the test part.
    func split(testFraction fraction: Double, seed: UInt64) throws -> (Dataset, Dataset) {
        guard fraction > 0, fraction < 1 else { throw ConfigurationError.invalid("--test-fraction", "\(fraction)", "a fraction between 0 and 1, e.g. 0.2") }
        guard count >= 2 else { throw DataError.values(path: "--data", detail: "\(count) example is too few to split into training and test parts") }
        // The training shuffle's Philox stream, at an epoch number training never reaches.
        let order = Shuffle.permutation(count: count, seed: seed, epoch: -1)
        let testCount = min(count - 1, max(1, Int((Double(count) * fraction).rounded())))
        return (selecting(Array(order[testCount...]).sorted()), selecting(Array(order[..<testCount]).sorted()))
    }

    /// Whether every value lies in [0, 1] (what the Bernoulli likelihood takes).
    var valuesInUnitInterval: Bool { images.allSatisfy { $0 >= 0 && $0 <= 1 } }
}
