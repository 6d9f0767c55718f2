import Foundation

/// Images with pixels scaled to [0, 1], row-major [count, width·height], and their labels.
public struct Dataset {
    public var images: [Float]
    public var labels: [UInt8]
    public var count: Int
    /// Values per example (784 for MNIST and Fashion-MNIST).
    public var exampleSize: Int
    /// Image height and width, for pictures.
    public var imageShape: (height: Int, width: Int)

    public init(images: [Float], labels: [UInt8], exampleSize: Int, imageShape: (Int, Int)) {
        self.images = images
        self.labels = labels
        self.exampleSize = exampleSize
        self.count = exampleSize == 0 ? 0 : images.count / exampleSize
        self.imageShape = imageShape
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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else { throw .missing(path: directory) }
        guard isDirectory.boolValue else { throw .unreadable(path: directory, reason: "expected a directory of IDX files") }
        let names = fileNames(split)
        func find(_ name: String) throws(DataError) -> String {
            for candidate in [name + ".gz", name] {
                let path = (directory as NSString).appendingPathComponent(candidate)
                if FileManager.default.fileExists(atPath: path) { return path }
            }
            throw .missingFiles(directory: directory, expected: [names.images, names.labels])
        }
        let imagePath = try find(names.images), labelPath = try find(names.labels)
        let images = try IDXArray(contentsOf: imagePath, rank: 3)
        let labels = try IDXArray(contentsOf: labelPath, rank: 1)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw .countMismatch(images: imagePath, imageCount: images.dimensions[0], labels: labelPath, labelCount: labels.dimensions[0])
        }
        guard images.dimensions[0] > 0, images.dimensions[1] * images.dimensions[2] > 0 else { throw .empty(path: imagePath) }
        let scale: Float = 1 / 255
        return Dataset(images: images.bytes.map { Float($0) * scale }, labels: labels.bytes,
                       exampleSize: images.dimensions[1] * images.dimensions[2], imageShape: (images.dimensions[1], images.dimensions[2]))
    }

    /// The examples whose labels are not in `classes`.
    public func excluding(classes: Set<UInt8>) -> Dataset {
        guard !classes.isEmpty else { return self }
        var kept: [Float] = [], keptLabels: [UInt8] = []
        for i in 0..<count where !classes.contains(labels[i]) {
            kept += images[i * exampleSize..<(i + 1) * exampleSize]
            keptLabels.append(labels[i])
        }
        return Dataset(images: kept, labels: keptLabels, exampleSize: exampleSize, imageShape: imageShape)
    }

    /// The first `n` examples.
    public func prefix(_ n: Int) -> Dataset {
        let k = min(n, count)
        return Dataset(images: Array(images[0..<k * exampleSize]), labels: Array(labels[0..<k]), exampleSize: exampleSize, imageShape: imageShape)
    }
}
