/// A data set that cannot be read as asked; each message names the file and what was expected.
public enum DataError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case notGzip(path: String)
    case corruptGzip(path: String, reason: String)
    case badMagic(path: String, found: String)
    case badRank(path: String, expected: Int, found: Int)
    case lengthMismatch(path: String, expected: Int, found: Int)
    case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
    case missingFiles(directory: String, expected: [String])
    case empty(path: String)
    case inputSizeMismatch(dataSize: Int, modelSize: Int)

    public var description: String {
        switch self {
        case .missing(let path): "data path \(path) does not exist"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .notGzip(let path): "\(path) ends in .gz but is not gzip data (its first bytes are not 1f 8b)"
        case .corruptGzip(let path, let reason): "\(path) is a damaged or truncated gzip file (\(reason))"
        case .badMagic(let path, let found):
            "\(path) is not an IDX file of unsigned bytes: its magic number is \(found), expected 00 00 08 01 (labels) or 00 00 08 03 (images)"
        case .badRank(let path, let expected, let found): "\(path) has \(found) dimensions, expected \(expected)"
        case .lengthMismatch(let path, let expected, let found):
            "\(path): its header promises \(expected) bytes of data but the file holds \(found)"
        case .countMismatch(let images, let imageCount, let labels, let labelCount):
            "\(images) has \(imageCount) images but \(labels) has \(labelCount) labels"
        case .missingFiles(let directory, let expected):
            "\(directory) does not hold an IDX data set: expected \(expected.joined(separator: ", ")) (optionally .gz)"
        case .empty(let path): "\(path) holds no examples"
        case .inputSizeMismatch(let dataSize, let modelSize):
            "the data has \(dataSize) values per example but the model expects \(modelSize)"
        }
    }
}
