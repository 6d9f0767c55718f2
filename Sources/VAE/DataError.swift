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
    /// A size from a file (header, stream) beyond what memory holds.
    case tooLarge(path: String, detail: String)
    /// A gzip stream that inflates past the size its IDX header promises (it is not read further).
    case inflatesBeyond(path: String, promised: Int)
    /// Labels a flag names that the data does not contain.
    case unknownLabels(flag: String, requested: [Int], present: [Int])
    /// A label selection that leaves nothing (or everything) to work with.
    case uselessLabelSelection(flag: String, value: String, detail: String)
    /// A CSV table that cannot be used, at `line` (1 is the header).
    case table(path: String, line: Int, detail: String)
    /// A .npy file that cannot be used.
    case numpy(path: String, detail: String)
    /// Data whose values a choice (a flag, the model) cannot take.
    case values(path: String, detail: String)

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
        case .tooLarge(let path, let detail): "\(path) is too large: \(detail)"
        case .inflatesBeyond(let path, let promised):
            "\(path) inflates to more than the \(promised) bytes of data its IDX header promises (a damaged or hostile gzip file); it was not read further"
        case .unknownLabels(let flag, let requested, let present):
            "\(flag) names \(requested.count == 1 ? "label" : "labels") \(requested.map(String.init).joined(separator: ",")) that the data does not contain; its labels are \(present.map(String.init).joined(separator: ","))"
        case .uselessLabelSelection(let flag, let value, let detail): "\(flag) \(value) \(detail)"
        case .table(let path, let line, let detail): "\(path), line \(line): \(detail)"
        case .numpy(let path, let detail): "\(path) is not a usable .npy array: \(detail)"
        case .values(let path, let detail): "\(path): \(detail)"
        }
    }
}
