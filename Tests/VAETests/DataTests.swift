import Foundation
import Testing
@testable import VAE

@Suite struct DataTests {
    @Test(arguments: [true, false])
    func idxFolderRoundTripsGzipAndPlain(_ gzip: Bool) throws {
        let dir = try temporaryDirectory()
        try writeIDXDataset(to: dir, count: 21, side: 5, gzip: gzip, testCount: 7)
        let train = try Dataset.load(directory: dir, split: .train)
        let test = try Dataset.load(directory: dir, split: .test)
        #expect(train.count == 21 && test.count == 7 && train.exampleSize == 25)
        #expect(train.imageShape == (5, 5))
        #expect(train.images[1] == Float(37) / 255)
        #expect(train.labels[13] == 3)
        #expect(train.images.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func idxArrayEncodesAndParsesBack() throws {
        let a = IDXArray(dimensions: [2, 3, 1], bytes: [1, 2, 3, 4, 5, 6])
        #expect(try IDXArray(parsing: a.encoded, path: "x", rank: 3) == a)
    }

    /// Debian's dataset-fashion-mnist, which the set-up installs.
    @Test func fashionMNISTLoadsFromTheDebianPackage() throws {
        let train = try Dataset.load(directory: Dataset.fashionMNISTDirectory, split: .train)
        let test = try Dataset.load(directory: Dataset.fashionMNISTDirectory, split: .test)
        #expect(train.count == 60_000 && test.count == 10_000)
        #expect(train.exampleSize == 784 && train.imageShape == (28, 28))
        #expect(Set(train.labels) == Set(0..<10))
        let mean = train.images.reduce(0.0) { $0 + Double($1) } / Double(train.images.count)
        #expect(mean > 0.2 && mean < 0.4)  // Fashion-MNIST's mean intensity is 0.286
    }

    @Test func brokenIDXFilesAreReportedByName() throws {
        let dir = try temporaryDirectory()
        let path = (dir as NSString).appendingPathComponent("x.idx")
        func attempt(_ bytes: [UInt8], rank: Int? = 3) -> DataError? {
            try? Data(bytes).write(to: URL(fileURLWithPath: path))
            do { _ = try IDXArray(contentsOf: path, rank: rank); return nil } catch { return error }
        }
        let good = IDXArray(dimensions: [2, 2, 2], bytes: Array(repeating: 7, count: 8)).encoded
        #expect(attempt([0x12, 0x34, 0x08, 0x03] + good.dropFirst(4)) == .badMagic(path: path, found: "12 34 08 03"))
        #expect(attempt(good, rank: 1) == .badRank(path: path, expected: 1, found: 3))
        #expect(attempt(Array(good.dropLast(3))) == .lengthMismatch(path: path, expected: 8, found: 5))
        #expect(attempt(good + [1]) == .lengthMismatch(path: path, expected: 8, found: 9))
        let gz = path + ".gz"
        try Data(good).write(to: URL(fileURLWithPath: gz))
        #expect(throws: DataError.notGzip(path: gz)) { try IDXArray(contentsOf: gz) }
        try writeGzip(good, to: gz)
        let whole = try Data(contentsOf: URL(fileURLWithPath: gz))
        try whole.prefix(whole.count - 12).write(to: URL(fileURLWithPath: gz))
        let truncated = #expect(throws: DataError.self) { try IDXArray(contentsOf: gz) }
        #expect(truncated?.description.contains("truncated") == true)
        #expect(throws: DataError.missing(path: dir + "/nope")) { try IDXArray(contentsOf: dir + "/nope") }
    }

    @Test func foldersWithoutTheFilesOrWithDisagreeingCountsAreRejected() throws {
        let dir = try temporaryDirectory()
        let error = #expect(throws: DataError.self) { try Dataset.load(directory: dir, split: .train) }
        #expect(error?.description.contains("train-images-idx3-ubyte") == true)
        try writeIDXDataset(to: dir, count: 5)
        let labels = (dir as NSString).appendingPathComponent("train-labels-idx1-ubyte.gz")
        try writeGzip(IDXArray(dimensions: [4], bytes: [0, 1, 2, 3]).encoded, to: labels)
        let mismatch = #expect(throws: DataError.self) { try Dataset.load(directory: dir, split: .train) }
        #expect(mismatch?.description.contains("5 images but") == true)
        #expect(throws: DataError.missing(path: dir + "/absent")) { try Dataset.load(directory: dir + "/absent", split: .train) }
    }

    @Test func excludingClassesDropsTheirExamples() {
        let data = syntheticDataset(count: 40)
        let kept = data.excluding(classes: [3, 5])
        #expect(kept.count == 32)
        #expect(!kept.labels.contains(3) && !kept.labels.contains(5))
    }
}
