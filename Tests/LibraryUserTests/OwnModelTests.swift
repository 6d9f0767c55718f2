// A library user's view: only public API (no @testable), a model of the user's own, trained,
// evaluated and round-tripped through a checkpoint the way the README shows.
import CPUBackend
import Engine
import Foundation
import OpenCLBackend
import Testing
import VAE

/// A three-layer conv VAE for 1×8×8 images: two convolutions and a dense latent head; the
/// decoder mirrors them with a dense layer, a reshape and two transposed convolutions.
struct TinyConvVAE: VAEArchitecture {
    var latentSize = 4
    var exampleShape: [Int] { [1, 8, 8] }
    var decoderLikelihood: Likelihood { .bernoulli }
    var summary: String { "tiny conv VAE 1×8×8 → \(latentSize)" }

    func makeNetworks(in g: Graph) throws -> VAENetworks {
        let encoder = Sequential([
            try Conv2d("enc.conv1", inputChannels: 1, outputChannels: 4, kernel: 3, stride: 2, padding: 1, activation: .relu, in: g),  // 8 → 4
            try Conv2d("enc.conv2", inputChannels: 4, outputChannels: 8, kernel: 3, stride: 2, padding: 1, activation: .relu, in: g),  // 4 → 2
            Flatten(),
        ])
        let decoder = Sequential([
            try Dense("dec.dense", inputs: latentSize, outputs: 8 * 2 * 2, activation: .relu, in: g),
            Reshape([8, 2, 2]),
            try ConvTranspose2d("dec.up1", inputChannels: 8, outputChannels: 4, kernel: 3, stride: 2, padding: 1,
                                outputPadding: (1, 1), activation: .relu, in: g),  // 2 → 4
            try ConvTranspose2d("dec.up2", inputChannels: 4, outputChannels: 1, kernel: 3, stride: 2, padding: 1,
                                outputPadding: (1, 1), in: g),  // 4 → 8, logits
        ])
        return VAENetworks(encoder: encoder, mean: try Dense("mu", inputs: 32, outputs: latentSize, in: g),
                           logVariance: try Dense("logvar", inputs: 32, outputs: latentSize, in: g), decoder: decoder)
    }
}

/// A small residual MLP: h = x + relu(W₂ relu(W₁ x)) inside the encoder, with the Engine's add.
struct ResidualBlock: Layer {
    let inner: Sequential
    init(_ name: String, width: Int, in g: Graph) throws {
        inner = Sequential([try Dense("\(name).a", inputs: width, outputs: width, activation: .relu, in: g),
                            try Dense("\(name).b", inputs: width, outputs: width, in: g)])
    }
    var parameters: [Graph.Tensor] { inner.parameters }
    func callAsFunction(_ x: Graph.Tensor, in g: Graph) throws -> Graph.Tensor { try g.add(x, try inner(x, in: g)) }
}

struct ResidualMLPVAE: VAEArchitecture {
    var exampleShape: [Int] { [64] }
    var latentSize: Int { 3 }
    var decoderLikelihood: Likelihood { .gaussian(sigma: 0.5) }
    var summary: String { "residual MLP 64-32-3" }

    func makeNetworks(in g: Graph) throws -> VAENetworks {
        let encoder = Sequential([try Dense("in", inputs: 64, outputs: 32, activation: .tanh, in: g), try ResidualBlock("res", width: 32, in: g)])
        return VAENetworks(encoder: encoder, mean: try Dense("mu", inputs: 32, outputs: 3, in: g),
                           logVariance: try Dense("logvar", inputs: 32, outputs: 3, in: g),
                           decoder: Sequential([try Dense("dec", inputs: 3, outputs: 32, activation: .tanh, in: g),
                                                try Dense("out", inputs: 32, outputs: 64, in: g)]))
    }
}

/// 8×8 images: a bright square at one of four places, with noise; labels are the place.
func squares(count: Int) -> Dataset {
    var images: [Float] = []
    for i in 0..<count {
        let (top, left) = ((i % 2) * 4, ((i / 2) % 2) * 4)
        for y in 0..<8 { for x in 0..<8 {
            let inside = y >= top && y < top + 4 && x >= left && x < left + 4
            images.append(inside ? 0.9 : 0.05 + 0.05 * Float((i * 31 + y * 8 + x) % 3))
        } }
    }
    return Dataset(images: images, labels: (0..<count).map { $0 % 4 }, exampleSize: 64, imageShape: (8, 8))
}

@Suite struct OwnModelTests {
    @Test(arguments: ["cpu", "opencl"])
    func aUsersConvModelTrainsEvaluatesAndRoundTripsItsCheckpoint(_ backendName: String) throws {
        let backend: any Backend = backendName == "cpu" ? CPUBackend() : try OpenCLBackend()
        let data = squares(count: 256)
        var training = TrainingConfiguration()
        training.batchSize = 32
        training.seed = 3
        let trainer = try Trainer(model: TinyConvVAE(), training: training, data: data, backend: backend, optimizer: Adam(learningRate: 3e-3))
        let first = try trainer.trainEpoch()
        var last = first
        for _ in 0..<7 { last = try trainer.trainEpoch() }
        #expect(last < first - 5, "training must lower the −ELBO: \(first) → \(last)")

        let session = try InferenceSession(architecture: TinyConvVAE(), parameters: try trainer.parameterValues(), backend: backend)
        let elbo = try session.negativeELBO(data, seed: 1)
        let iwae = try session.importanceWeightedNegativeLogLikelihood(data.prefix(16), samples: 50).reduce(0, +) / 16
        #expect(elbo.negativeELBO.isFinite && iwae.isFinite && iwae < elbo.negativeELBO + 5)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("own-model-\(getpid())-\(backendName)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/model.safetensors"
        try trainer.checkpoint().write(to: path)
        let loaded = try InferenceSession(architecture: TinyConvVAE(), checkpoint: try Checkpoint(contentsOf: path), path: path, backend: backend)
        #expect(try loaded.encode(data.prefix(8)).mean == session.encode(data.prefix(8)).mean)
        #expect(try loaded.reconstruct(Array(data.images[0..<64]), count: 1) == session.reconstruct(Array(data.images[0..<64]), count: 1))

        // Another architecture, or the command line's loader, refuses the file by name.
        #expect(throws: CheckpointError.self) {
            try InferenceSession(architecture: TinyConvVAE(latentSize: 5), checkpoint: try Checkpoint(contentsOf: path), path: path, backend: backend)
        }
        #expect(throws: CheckpointError.self) { try InferenceSession(checkpoint: try Checkpoint(contentsOf: path), path: path, backend: backend) }
        // Resuming continues from the stored position.
        let resumed = try Trainer(model: TinyConvVAE(), training: training, data: data, backend: backend, optimizer: Adam(learningRate: 3e-3))
        try resumed.restore(try Checkpoint(contentsOf: path), path: path)
        #expect(resumed.epoch == 8 && resumed.step == trainer.step)
    }

    @Test func aResidualMLPTrainsWithTheGaussianLikelihood() throws {
        let data = squares(count: 128)
        var training = TrainingConfiguration()
        training.batchSize = 16
        let trainer = try Trainer(model: ResidualMLPVAE(), training: training, data: data, backend: CPUBackend())
        let first = try trainer.trainEpoch()
        var last = first
        for _ in 0..<5 { last = try trainer.trainEpoch() }
        #expect(last < first, "\(first) → \(last)")
        #expect(try trainer.checkpoint().names.contains("optimizer.m.res.a.weight"))
    }
}
