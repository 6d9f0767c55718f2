import CZlib
import Engine
import Foundation

/// Examples as rows of values, row-major [count, exampleSize], and their labels: images with
/// pixels scaled to [0, 1] (channels, then rows, then columns), or a table's rows.
public struct Dataset {
    /// The values (pixels, or a table's features).
    public var images: [Float]
    /// One label per example (0 where the data has none).
    public var labels: [Int]
    public var count: Int
    /// Values per example (784 for MNIST and Fashion-MNIST).
    public var exampleSize: Int
    /// Image height and width, for pictures (1 × features for a table).
    public var imageShape: (height: Int, width: Int)
    /// Colour channels of an image (1 for grayscale and for tables).
    public var channels = 1
    /// The label texts, when labels came from text (label l is labelNames[l]).
    public var labelNames: [String]?
    /// The feature names of a table (nil for images).
    public var columns: [String]?

    public init(images: [Float], labels: [Int], exampleSize: Int, imageShape: (Int, Int), channels: Int = 1) {
        self.images = images
        self.labels = labels
        self.exampleSize = exampleSize
        self.count = exampleSize == 0 ? 0 : images.count / exampleSize
        self.imageShape = imageShape
        self.channels = channels
    }

    /// The same data with other values and labels (a subset of the examples).
    func with(images: [Float], labels: [Int]) -> Dataset {
        var d = self
        d.images = images
        d.labels = labels
        d.count = exampleSize == 0 ? 0 : images.count / exampleSize
        return d
    }

    /// Where Debian's dataset-fashion-mnist package puts the data.
    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    public enum Split: String, Sendable { case train, test }

    /// The file names of a split, without the optional .gz.
    public static func fileNames(_ split: Split) -> (images: String, labels: String) {
        let prefix = split == .train ? "train" : "t10k"
        return ("\(prefix)-images-idx3-ubyte", "\(prefix)-labels-idx1-ubyte")
    }

    /// Loads a split of an MNIST-format directory (Fashion-MNIST, MNIST): IDX files, gzip or plain.
    public static func load(directory: String, split: Split) throws(DataError) -> Dataset {
        guard let status = FileStatus(directory) else { throw .missing(path: directory) }
        guard status.kind == .directory else { throw .unreadable(path: directory, reason: "expected a directory of IDX files") }
        let names = fileNames(split)
        func find(_ name: String) throws(DataError) -> String {
            for candidate in [name + ".gz", name] {
                let path = FileSystem.join(directory, candidate)
                if FileSystem.exists(path) { return path }
            }
            throw .missingFiles(directory: directory, expected: [names.images, names.labels])
        }
        let imagePath = try find(names.images), labelPath = try find(names.labels)
        // A pixel is held as its byte, as a float, and again as a float in a backend's copy of
        // the data set (with room to spare): about 10 bytes of memory for each byte of the file.
        let images = try IDXArray(contentsOf: imagePath, rank: 3, limit: MemoryLimits.host.totalBytes / 10)
        let labels = try IDXArray(contentsOf: labelPath, rank: 1)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw .countMismatch(images: imagePath, imageCount: images.dimensions[0], labels: labelPath, labelCount: labels.dimensions[0])
        }
        guard images.dimensions[0] > 0, images.dimensions[1] * images.dimensions[2] > 0 else { throw .empty(path: imagePath) }
        let scale: Float = 1 / 255
        return Dataset(images: images.bytes.map { Float($0) * scale }, labels: labels.bytes.map(Int.init),
                       exampleSize: images.dimensions[1] * images.dimensions[2], imageShape: (images.dimensions[1], images.dimensions[2]))
    }

    /// The examples whose labels are not in `classes`.
    public func excluding(classes: Set<Int>) -> Dataset {
        guard !classes.isEmpty else { return self }
        return selecting((0..<count).filter { !classes.contains(labels[$0]) })
    }

    /// The examples at `indices`, in that order.
    public func selecting(_ indices: [Int]) -> Dataset {
        var kept: [Float] = []
        kept.reserveCapacity(indices.count * exampleSize)
        for i in indices { kept += images[i * exampleSize..<(i + 1) * exampleSize] }
        return with(images: kept, labels: indices.map { labels[$0] })
    }

    /// What identifies a training set in a checkpoint, so `--resume` can refuse another one:
    /// the number of examples and a CRC-32 of their values and labels.
    public var identity: DataIdentity {
        var crc = crc32(0, nil, 0)
        images.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = min(raw.count - offset, 1 << 30)
                crc = crc32(crc, raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, uInt(n))
                offset += n
            }
        }
        // Labels as bytes when they fit (what identities of IDX data sets have always hashed).
        let labelBytes = labels.allSatisfy { (0...255).contains($0) } ? labels.map { UInt8($0) }
            : labels.flatMap { l in withUnsafeBytes(of: Int64(l).littleEndian, Array.init) }
        labelBytes.withUnsafeBufferPointer { crc = crc32(crc, $0.baseAddress, uInt($0.count)) }
        return DataIdentity(examples: count, valuesPerExample: exampleSize, checksum: String(format: "%08lx", crc))
    }

    /// The labels present, in ascending order.
    public var labelValues: [Int] { Set(labels).sorted() }

    /// A label as the user wrote it: its text, or its number.
    public func labelText(_ l: Int) -> String {
        if let labelNames, labelNames.indices.contains(l) { return labelNames[l] }
        return String(l)
    }

    /// Throws unless every label in `requested` occurs in the data; the error lists the labels there are.
    public func checkLabels(_ requested: [Int], flag: String) throws(DataError) {
        let present = Set(labels)
        let unknown = requested.filter { !present.contains($0) }
        guard unknown.isEmpty else { throw .unknownLabels(flag: flag, requested: unknown, present: labelValues) }
    }

    /// The first `n` examples (none for n ≤ 0).
    public func prefix(_ n: Int) -> Dataset {
        let k = max(0, min(n, count))
        return with(images: Array(images[0..<k * exampleSize]), labels: Array(labels[0..<k]))
    }
}

/// The size and checksum of a training set (see `Dataset.identity`).
public struct DataIdentity: Codable, Equatable, Sendable, CustomStringConvertible {
    public var examples: Int
    public var valuesPerExample: Int
    public var checksum: String

    public var description: String { "\(examples) examples of \(valuesPerExample) values, CRC-32 \(checksum)" }
}
