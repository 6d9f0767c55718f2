import Foundation

/// What `--data` names, and how to read it. The format follows from the path: a folder of
/// MNIST-format IDX files, a folder of PNG images (see `ImageFolder`), a `.npy` array, or a
/// `.csv` table with a header row.
public struct DataSource: Codable, Equatable, Sendable {
    public enum Format: String, Codable, Sendable { case idx, png, npy, csv }

    public var path: String
    /// CSV: the label column and columns to leave out (and, from a checkpoint, the feature columns).
    public var columns = TableColumns()
    /// .npy: integer labels, one per example, from a second .npy file.
    public var labelsPath: String?
    /// .npy of rank 4: [N, C, H, W] instead of the assumed [N, H, W, C].
    public var channelsFirst = false

    public init(path: String, columns: TableColumns = TableColumns(), labelsPath: String? = nil, channelsFirst: Bool = false) {
        self.path = path
        self.columns = columns
        self.labelsPath = labelsPath
        self.channelsFirst = channelsFirst
    }

    /// The format the path names; an unknown one is an error listing those there are.
    public func format() throws(DataError) -> Format {
        guard let status = FileStatus(path) else { throw .missing(path: path) }
        if status.kind == .directory {
            let idx = Dataset.fileNames(.train).images
            if FileSystem.exists(FileSystem.join(path, idx)) || FileSystem.exists(FileSystem.join(path, idx + ".gz")) { return .idx }
            if ImageFolder.holdsImages(path) { return .png }
            throw .unreadable(path: path, reason: "expected a folder of MNIST-format IDX files (\(idx)[.gz], …) or of PNG images (CLASS/*.png, or *.png)")
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".npy") { return .npy }
        if lower.hasSuffix(".csv") { return .csv }
        throw .unreadable(path: path, reason: "expected a folder of IDX files or PNG images, a .npy array or a .csv table (with a header row)")
    }

    /// Reads the data: a split of an IDX folder, or all of the other formats. Values come as
    /// stored (IDX, PNG and uint8 .npy pixels scaled to [0, 1]); `DataPreprocessing` does the rest.
    public func load(split: Dataset.Split = .train) throws(DataError) -> Dataset {
        switch try format() {
        case .idx:
            return try Dataset.load(directory: path, split: split)
        case .png:
            return try ImageFolder.load(path)
        case .csv:
            let table = try TableFile.read(path, columns: columns)
            var d = Dataset(images: table.values, labels: table.labels ?? Array(repeating: 0, count: table.rows),
                            exampleSize: table.columns.count, imageShape: (1, table.columns.count))
            d.labelNames = table.labelNames
            d.columns = table.columns
            return d
        case .npy:
            return try loadNumpy()
        }
    }

    private func loadNumpy() throws(DataError) -> Dataset {
        let array = try NumpyArray(contentsOf: path)
        let s = array.shape
        guard s.count >= 2, s.count <= 4 else {
            throw .numpy(path: path, detail: "its shape \(s) is not [N, D], [N, H, W], [N, H, W, C] or [N, C, H, W]")
        }
        guard s[0] > 0, s.dropFirst().allSatisfy({ $0 > 0 }) else { throw .empty(path: path) }
        var values = array.floats()
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw .values(path: path, detail: "element \(bad) (example \(bad / max(1, array.count / s[0]))) is \(values[bad]), not a finite number")
        }
        if array.type == "u1" { values = values.map { $0 / 255 } }
        let (channels, height, width): (Int, Int, Int)
        switch s.count {
        case 2: (channels, height, width) = (1, 1, s[1])
        case 3: (channels, height, width) = (1, s[1], s[2])
        default:
            if channelsFirst {
                (channels, height, width) = (s[1], s[2], s[3])
            } else {
                (channels, height, width) = (s[3], s[1], s[2])
                values = Self.channelsFirst(values, count: s[0], height: height, width: width, channels: channels)
            }
        }
        var labels = Array(repeating: 0, count: s[0])
        if let labelsPath {
            let l = try NumpyArray(contentsOf: labelsPath)
            guard let ints = l.integers(), l.shape.count == 1 || (l.shape.count == 2 && l.shape[1] == 1) else {
                throw .numpy(path: labelsPath, detail: "labels must be integers of shape [N] (found \(l.type) of shape \(l.shape))")
            }
            guard ints.count == s[0] else { throw .countMismatch(images: path, imageCount: s[0], labels: labelsPath, labelCount: ints.count) }
            labels = ints
        }
        var d = Dataset(images: values, labels: labels, exampleSize: channels * height * width, imageShape: (height, width), channels: channels)
        if s.count == 2 && array.type != "u1" { d.columns = (0..<s[1]).map { "feature \($0)" } }  // a table: standardized
        return d
    }

    /// [N, H, W, C] values reordered to [N, C, H, W].
    static func channelsFirst(_ v: [Float], count: Int, height: Int, width: Int, channels: Int) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        let plane = height * width
        for n in 0..<count {
            for q in 0..<plane {
                for c in 0..<channels { out[(n * channels + c) * plane + q] = v[(n * plane + q) * channels + c] }
            }
        }
        return out
    }
}

/// What a model was trained on and how its data was prepared, stored in its checkpoints
/// ("data_source" metadata) so every later command reads and prepares data the same way:
/// the format and reading options, and for tables the training split's per-feature mean and
/// standard deviation, which every command applies as (x − mean) / standard deviation.
public struct DataPreprocessing: Codable, Equatable, Sendable {
    public var format: DataSource.Format
    public var columns: TableColumns?
    public var channelsFirst: Bool?
    public var mean: [Float]?
    public var standardDeviation: [Float]?

    public init(format: DataSource.Format, columns: TableColumns? = nil, channelsFirst: Bool? = nil, mean: [Float]? = nil,
                standardDeviation: [Float]? = nil) {
        self.format = format
        self.columns = columns
        self.channelsFirst = channelsFirst
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// The reading options and, for a table (CSV, or a float .npy of shape [N, D]), the
    /// standardization fitted on `training`.
    public static func fit(_ training: Dataset, source: DataSource) throws(DataError) -> DataPreprocessing {
        let format = try source.format()
        var p = DataPreprocessing(format: format)
        if format == .csv {
            var c = source.columns
            c.featureColumns = training.columns
            c.labelNames = training.labelNames
            p.columns = c
        }
        if format == .npy { p.channelsFirst = source.channelsFirst }
        if training.columns != nil {
            let (n, d) = (training.count, training.exampleSize)
            var mean = [Double](repeating: 0, count: d), squares = [Double](repeating: 0, count: d)
            for i in 0..<n {
                for j in 0..<d { mean[j] += Double(training.images[i * d + j]) }
            }
            for j in 0..<d { mean[j] /= Double(max(n, 1)) }
            for i in 0..<n {
                for j in 0..<d {
                    let e = Double(training.images[i * d + j]) - mean[j]
                    squares[j] += e * e
                }
            }
            p.mean = mean.map { Float($0) }
            // A constant feature keeps scale 1: it carries no information either way.
            p.standardDeviation = squares.map { s in
                let sd = (s / Double(max(n, 1))).squareRoot()
                return sd > 1e-12 ? Float(sd) : 1
            }
        }
        return p
    }

    /// How a later command reads data at `path` for this model (labels from `labelsPath`).
    public func source(path: String, labelsPath: String? = nil) -> DataSource {
        DataSource(path: path, columns: columns ?? TableColumns(), labelsPath: labelsPath, channelsFirst: channelsFirst ?? false)
    }

    /// Standardizes a table in place (images pass unchanged).
    public func apply(to data: inout Dataset) {
        guard let mean, let standardDeviation, mean.count == data.exampleSize else { return }
        let d = data.exampleSize
        for i in 0..<data.count {
            for j in 0..<d { data.images[i * d + j] = (data.images[i * d + j] - mean[j]) / standardDeviation[j] }
        }
    }
}
