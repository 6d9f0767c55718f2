import Engine
import Foundation
import VAE

/// What a training run writes besides its checkpoint and metrics (rank 0 alone, in an MPI job).
extension Train {
    /// A calibrated Gaussian's σ² over the whole training set (the mean squared error of the
    /// reconstructions through z = μ, at least 1e-6): one value, or one per feature for
    /// `calibrated-per-feature`; nil for the other likelihoods. `vae score` scores each example
    /// with them, so a score does not depend on the other examples of its batch.
    func calibratedVariances(session: InferenceSession, data: Dataset, kind: LikelihoodKind) throws -> [Double]? {
        guard kind == .calibrated || kind == .calibratedPerFeature else { return nil }
        let d = data.exampleSize
        var sums = [Double](repeating: 0, count: d)
        for start in stride(from: 0, to: data.count, by: 1000) {
            let n = min(1000, data.count - start)
            let x = Array(data.images[start * d..<(start + n) * d])
            for (i, (a, b)) in zip(x, try session.reconstruct(x, count: n)).enumerated() { sums[i % d] += Double(a - b) * Double(a - b) }
        }
        let perFeature = sums.map { max($0 / Double(data.count), 1e-6) }
        return kind == .calibratedPerFeature ? perFeature : [max(sums.reduce(0, +) / Double(data.count * d), 1e-6)]
    }

    func writePictures(session: InferenceSession, testSet: Dataset, seed: UInt64, out: String) throws {
        let latent = session.architecture.latentSize
        let n = 64
        let z = Philox.normals(count: n * latent, seed: seed, sample: 0x5A3D)
        let (h, w) = testSet.imageShape
        try ImageGrid(columns: 8, imageHeight: h, imageWidth: w)
            .write(try session.decode(z, count: n), count: n, to: FileSystem.join(out, "samples.png"))
        let count = min(32, testSet.count)
        let originals = Array(testSet.images[0..<count * testSet.exampleSize])
        let reconstructed = try session.reconstruct(originals, count: count)
        // Rows alternate: 8 originals, then their 8 reconstructions.
        var pairs: [Float] = []
        for row in stride(from: 0, to: count, by: 8) {
            let end = min(row + 8, count) * testSet.exampleSize
            pairs += originals[row * testSet.exampleSize..<end]
            pairs += reconstructed[row * testSet.exampleSize..<end]
        }
        try ImageGrid(columns: 8, imageHeight: h, imageWidth: w)
            .write(pairs, count: pairs.count / testSet.exampleSize, to: FileSystem.join(out, "reconstructions.png"))
    }
}
