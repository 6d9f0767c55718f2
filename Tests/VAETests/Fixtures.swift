import CPUBackend
import CZlib
import Engine
import Foundation
import OpenCLBackend
import Testing
@testable import VAE

/// A fresh temporary folder for one test, inside `testScratchRoot`.
func temporaryDirectory() throws -> String {
    let path = testScratchRoot + "/" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The folder that holds this test process's temporary folders; it is removed, with everything
/// in it, when the process exits (a crashed run leaves it for a look). Each run of the suite
/// used to leave about 60 folders (some 60 MB) in the temporary directory.
let testScratchRoot = makeScratchRoot()

private func makeScratchRoot() -> String {
    let path = NSTemporaryDirectory() + "swift-vae-tests-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: testScratchRoot) }
    return path
}

/// Writes `bytes` gzip-compressed with zlib.
func writeGzip(_ bytes: [UInt8], to path: String) throws {
    guard let file = gzopen(path, "wb") else { throw CocoaError(.fileWriteUnknown) }
    _ = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    gzclose(file)
}

/// An MNIST-format folder with `count` images of `side`×`side` pixels (gzip or plain).
func writeIDXDataset(to directory: String, count: Int, side: Int = 4, gzip: Bool = true, testCount: Int? = nil) throws {
    for (split, n) in [(Dataset.Split.train, count), (.test, testCount ?? count)] {
        let names = Dataset.fileNames(split)
        let images = IDXArray(dimensions: [n, side, side], bytes: (0..<n * side * side).map { UInt8(($0 * 37 + $0 / 7) % 256) })
        let labels = IDXArray(dimensions: [n], bytes: (0..<n).map { UInt8($0 % 10) })
        for (name, array) in [(names.images, images), (names.labels, labels)] {
            let path = (directory as NSString).appendingPathComponent(name + (gzip ? ".gz" : ""))
            if gzip { try writeGzip(array.encoded, to: path) } else { try Data(array.encoded).write(to: URL(fileURLWithPath: path)) }
        }
    }
}

/// Structured synthetic data in [0, 1]: mixtures of three prototypes over 16 pixels.
func syntheticDataset(count: Int = 256, size: Int = 16) -> Dataset {
    let prototypes = (0..<3).map { k in (0..<size).map { i in Float((i + 5 * k) % size) / Float(size) } }
    let weights = Philox.uniforms(count: count * 3, bound: 0.5, seed: 11, stream: 0).map { $0 + 0.5 }
    var images: [Float] = []
    for n in 0..<count {
        let w = weights[3 * n..<3 * n + 3]
        let total = w.reduce(0, +)
        for i in 0..<size { images.append((0..<3).reduce(0) { $0 + w[3 * n + $1] * prototypes[$1][i] } / total) }
    }
    return Dataset(images: images, labels: (0..<count).map { $0 % 10 }, exampleSize: size, imageShape: (4, 4))
}

func smallModel(likelihood: LikelihoodKind = .bernoulli) -> ModelConfiguration {
    var m = ModelConfiguration()
    m.inputSize = 16
    m.hiddenSizes = [12]
    m.latentSize = 3
    m.likelihood = likelihood
    return m
}

func smallTraining(batch: Int = 32, seed: UInt64 = 1) -> TrainingConfiguration {
    var t = TrainingConfiguration()
    t.batchSize = batch
    t.learningRate = 1e-2
    t.seed = seed
    return t
}

/// Both backends; OpenCL must exist (its absence fails the test).
func backends() throws -> [(String, any Backend)] {
    do {
        return [("cpu", CPUBackend()), ("opencl", try OpenCLBackend())]
    } catch {
        Issue.record("OpenCL is required for this test: \(error)")
        throw error
    }
}

/// Largest |a − b| / (1 + |a|) over the parameters.
func relativeDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
    var worst: Float = 0
    for (name, x) in a {
        guard let y = b[name], y.count == x.count else { return .infinity }
        for (u, v) in zip(x, y) { worst = max(worst, abs(u - v) / (1 + abs(u))) }
    }
    return worst
}

/// Runs vae and expects a clean refusal: an exit status from 1 to 127 (no signal, no trap),
/// every fragment in the message on stderr, and no trap or stack-trace text.
@discardableResult
func expectCleanFailure(_ arguments: [String], in dir: String, environment: [String: String] = [:], _ fragments: [String],
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    let result = try vae(arguments, in: dir, environment: environment)
    #expect((1...127).contains(result.status), "\(arguments) exited with \(result.status): \(result.error)", sourceLocation: sourceLocation)
    for f in fragments {
        #expect(result.error.contains(f), "\(arguments): expected “\(f)” in: \(result.error)", sourceLocation: sourceLocation)
    }
    for trap in ["Fatal error", "Stack dump", "Backtrace", "Illegal instruction", "Segmentation fault"] {
        #expect(!result.error.contains(trap), "\(arguments): \(result.error)", sourceLocation: sourceLocation)
    }
    return result
}

/// Runs a bash script with `$VAE` set to the vae executable.
func shell(_ script: String, in directory: String) throws -> CommandResult {
    try runProcess("/bin/bash", ["-c", script], in: directory, environment: ["VAE": try vaeExecutable()])
}

func fileBytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }
