import Engine
import Foundation
import Testing
@testable import VAE

/// `InferenceSession.lossGradients` and `vae gradients`: what they write is the gradient of the
/// loss they write, at the noise they write.
@Suite struct GradientDumpTests {
    /// A small conv model with smooth activations (no kinks for the finite differences) and a
    /// Gaussian decoder (its decoded mean is x̂, so the loss can be recomputed from `decode`).
    static let model: ModelConfiguration = {
        var m = ModelConfiguration()
        m.architecture = .conv
        m.inputSize = 16
        m.imageShape = [1, 4, 4]
        m.convChannels = [2]
        m.kernelSize = 3
        m.denseWidth = 5
        m.latentSize = 2
        m.activation = "tanh"
        m.likelihood = .gaussian
        m.sigma = 0.5
        return m
    }()

    /// Every parameter U(±0.5), from a fixed stream.
    static func parameters() throws -> [String: [Float]] {
        let g = Graph()
        let vae = try VariationalAutoencoder(model, in: g)
        var values: [String: [Float]] = [:]
        for (i, p) in vae.parameters.enumerated() {
            values[g.name(p)] = Philox.uniforms(count: g.shape(p).count, bound: 0.5, seed: 5, stream: UInt32(i))
        }
        return values
    }

    static func batches(_ session: InferenceSession, _ data: Dataset, count: Int = 2) throws -> [BatchGradients] {
        var out: [BatchGradients] = []
        try session.lossGradients(data, batch: 8, batches: count, seed: 3) { k, batch in
            #expect(k == out.count)
            out.append(batch)
        }
        return out
    }

    @Test func gradientsAreThoseOfTheLossAtTheWrittenNoise() throws {
        let data = syntheticDataset(count: 24)
        let parameters = try Self.parameters()
        for (name, backend) in try backends() {
            let session = try InferenceSession(architecture: Self.model, parameters: parameters, backend: backend)
            let dumped = try Self.batches(session, data)
            #expect(dumped.count == 2)
            // The loss from the session's encoder and decoder and the written noise, on the host.
            let (mu, lv) = try session.encode(data)
            let (sigma, d, latent) = (Double(Self.model.sigma), 16, 2)
            for (k, batch) in dumped.enumerated() {
                #expect(batch.images == Array(data.images[k * 8 * d..<(k + 1) * 8 * d]), "\(name): batch \(k) is not examples \(k * 8)..<\((k + 1) * 8)")
                var z = [Float](repeating: 0, count: 8 * latent)
                for i in z.indices {
                    let j = k * 8 * latent + i
                    z[i] = mu[j] + expf(0.5 * lv[j]) * batch.noise[i]
                }
                let decoded = try session.decode(z, count: 8)
                var total = 0.0
                for b in 0..<8 {
                    for p in 0..<d {
                        let e = Double(batch.images[b * d + p] - decoded[b * d + p])
                        total += e * e / (2 * sigma * sigma) + log(sigma) + 0.5 * log(2 * Double.pi)
                    }
                    for j in 0..<latent {
                        let (m, v) = (Double(mu[(k * 8 + b) * latent + j]), Double(lv[(k * 8 + b) * latent + j]))
                        total += -0.5 * (1 + v - m * m - exp(v))
                    }
                }
                #expect(abs(total / 8 - Double(batch.loss)) <= 1e-5 * abs(total / 8), "\(name): batch \(k) loss \(batch.loss), recomputed \(total / 8)")
            }
            // Central differences of the written loss, one element of every parameter.
            let h: Float = 1e-2
            for (i, gradient) in dumped[1].gradients.enumerated() {
                let element = (i * 7) % gradient.values.count
                func loss(_ delta: Float) throws -> Double {
                    var moved = parameters
                    moved[gradient.name]![element] += delta
                    let s = try InferenceSession(architecture: Self.model, parameters: moved, backend: backend)
                    return Double(try Self.batches(s, data)[1].loss)
                }
                let difference = (try loss(h) - loss(-h)) / Double(2 * h)
                let g = Double(gradient.values[element])
                #expect(abs(difference - g) <= 2e-3 + 1e-2 * abs(g), "\(name): ∂loss/∂\(gradient.name)[\(element)] \(g), central difference \(difference)")
            }
        }
    }

    @Test func commandWritesEachBatchAndRefusesWhatCannotWork() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 64, side: 9, testCount: 24)
        let flags = ["--architecture", "conv", "--channels", "3,5", "--kernel", "3", "--dense", "16", "--latent", "2"]
        let train = try vae(["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--out", "run"] + flags, in: dir)
        #expect(train.status == 0, "\(train.error)")
        let common = ["gradients", "--backend", "cpu", "--checkpoint", "run", "--data", "data", "--split", "train", "--batch-size", "16"]
        let run = try vae(common + ["--batches", "2", "--out", "g"], in: dir)
        #expect(run.status == 0, "\(run.error)")
        let x = try NumpyArray(contentsOf: dir + "/g/batch-1.x.npy")
        #expect(x.shape == [16, 1, 9, 9])
        let train9 = try Dataset.load(directory: dir + "/data", split: .train)
        #expect(x.floats() == Array(train9.images[16 * 81..<32 * 81]), "batch 1 is examples 16..<32, scaled as in training")
        #expect(try NumpyArray(contentsOf: dir + "/g/batch-1.noise.npy").shape == [16, 2])
        #expect(try NumpyArray(contentsOf: dir + "/g/batch-0.loss.npy").shape == [1])
        #expect(try NumpyArray(contentsOf: dir + "/g/batch-1.decoder.deconv.1.weight.npy").shape == [3, 1, 3, 3])
        #expect(!FileManager.default.fileExists(atPath: dir + "/g/batch-2.x.npy"))

        try expectCleanFailure(common + ["--batches", "5", "--out", "g"], in: dir, ["--batches 5", "at most 4 batches of 16", "64 examples"])
        try expectCleanFailure(common + ["--batches", "0", "--out", "g"], in: dir, ["--batches 0", "a positive number"])
        try Data("notes".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        try expectCleanFailure(common + ["--out", "notes.txt"], in: dir, ["notes.txt", "--out takes a folder"])
        // A file of the same name that this command did not write stays as it was.
        try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/g/batch-0.x.npy"))
        try expectCleanFailure(common + ["--batches", "1", "--out", "g"], in: dir, ["batch-0.x.npy"])
        #expect(fileBytes(dir + "/g/batch-0.x.npy") == Data("mine".utf8))
    }
}
