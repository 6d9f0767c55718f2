import CPUBackend
import Engine
import Foundation
import OpenCLBackend
import Testing
@testable import VAE

@Suite struct TrainerTests {
    @Test func lossFallsOnASmallSubsetOnBothBackends() throws {
        for (name, backend) in try backends() {
            let trainer = try Trainer(model: smallModel(), training: smallTraining(), data: syntheticDataset(), backend: backend)
            let first = try trainer.trainEpoch()
            var last = first
            for _ in 0..<15 { last = try trainer.trainEpoch() }
            #expect(last < first - 0.3, "\(name): loss went from \(first) to \(last)")
            #expect(trainer.step == 16 * 8)
        }
    }

    @Test func sameSeedGivesTheSameWeightsTwice() throws {
        for (name, backend) in try backends() {
            func train(_ seed: UInt64) throws -> [String: [Float]] {
                let t = try Trainer(model: smallModel(), training: smallTraining(seed: seed), data: syntheticDataset(), backend: backend)
                for _ in 0..<2 { try t.trainEpoch() }
                return try t.parameterValues()
            }
            let a = try train(4)
            #expect(a == (try train(4)), "\(name)")
            #expect(a != (try train(5)), "\(name)")
        }
    }

    /// Three steps of the default-shaped objective on both backends agree closely.
    @Test(arguments: [LikelihoodKind.bernoulli, .gaussian, .calibrated, .calibratedPerFeature])
    func cpuAndOpenCLStepsAgree(_ likelihood: LikelihoodKind) throws {
        var results: [[String: [Float]]] = []
        var training = smallTraining(batch: 64)
        training.samples = 2
        for (_, backend) in try backends() {
            let t = try Trainer(model: smallModel(likelihood: likelihood), training: training, data: syntheticDataset(count: 192), backend: backend)
            try t.trainEpoch()
            results.append(try t.parameterValues())
        }
        #expect(relativeDifference(results[0], results[1]) < 1e-4)
    }

    /// Interrupting after an epoch and resuming from the checkpoint ends with the same weights as
    /// an uninterrupted run.
    @Test(arguments: [Schedule.joint, .alternating])
    func resumeMatchesAnUninterruptedRun(_ schedule: Schedule) throws {
        for (name, backend) in try backends() {
            var training = smallTraining()
            training.schedule = schedule
            training.decoderLearningRate = 3e-3
            let data = syntheticDataset()
            let straight = try Trainer(model: smallModel(), training: training, data: data, backend: backend)
            for _ in 0..<3 { try straight.trainEpoch() }

            let first = try Trainer(model: smallModel(), training: training, data: data, backend: backend)
            try first.trainEpoch()
            let path = try temporaryDirectory() + "/model.safetensors"
            try first.checkpoint().write(to: path)
            let resumed = try Trainer(model: smallModel(), training: training, data: data, backend: backend)
            try resumed.restore(try Checkpoint(contentsOf: path), path: path)
            #expect(resumed.epoch == 1 && resumed.step == first.step)
            for _ in 0..<2 { try resumed.trainEpoch() }
            #expect(try resumed.parameterValues() == straight.parameterValues(), "\(name) \(schedule)")
        }
    }

    @Test func checkpointOfAnotherArchitectureNamesTheTensorAndShapes() throws {
        let backend = CPUBackend()
        let trainer = try Trainer(model: smallModel(), training: smallTraining(), data: syntheticDataset(), backend: backend)
        let path = try temporaryDirectory() + "/model.safetensors"
        try trainer.checkpoint().write(to: path)
        var wider = smallModel()
        wider.hiddenSizes = [13]
        let other = try Trainer(model: wider, training: smallTraining(), data: syntheticDataset(), backend: backend)
        let error = #expect(throws: CheckpointError.self) { try other.restore(try Checkpoint(contentsOf: path), path: path) }
        #expect(error?.description.contains("different model") == true)
        // A session built from the checkpoint uses its own architecture.
        let session = try InferenceSession(checkpoint: try Checkpoint(contentsOf: path), path: path, backend: backend)
        #expect(session.architecture as? ModelConfiguration == smallModel())
        var c = try Checkpoint(contentsOf: path)
        c.set("encoder.0.weight", shape: [13, 16], values: [Float](repeating: 0, count: 13 * 16))
        let shapeError = #expect(throws: CheckpointError.self) { try InferenceSession(checkpoint: c, path: path, backend: backend) }
        #expect(shapeError == .shapeMismatch(path: path, tensor: "encoder.0.weight", checkpoint: [13, 16], model: [12, 16]))
    }

    @Test func everyObjectiveTrainsWithoutNaN() throws {
        for likelihood in LikelihoodKind.allCases {
            for kl in KLEstimator.allCases {
                var training = smallTraining()
                training.kl = kl
                training.beta = 0.5
                let t = try Trainer(model: smallModel(likelihood: likelihood), training: training, data: syntheticDataset(), backend: CPUBackend())
                let loss = try t.trainEpoch(reportEvery: 1)
                #expect(loss.isFinite, "\(likelihood) \(kl)")
            }
        }
    }

    @Test func evaluationAndPicturesWork() throws {
        let backend = CPUBackend()
        let data = syntheticDataset(count: 77)
        let trainer = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend)
        try trainer.trainEpoch()
        let session = try InferenceSession(architecture: smallModel(), parameters: try trainer.parameterValues(), backend: backend)
        let report = try session.negativeELBO(data, batchSize: 10)
        let whole = try session.negativeELBO(data, batchSize: 77)
        #expect(abs(report.negativeELBO - report.reconstruction - report.kl) < 1e-6)
        // The closed-form KL has no noise: batching (with a padded last batch) must not change it.
        // The reconstruction uses other z draws per batching, so it agrees only within noise.
        #expect(abs(report.kl - whole.kl) < 1e-4)
        #expect(abs(report.reconstruction - whole.reconstruction) < 0.05 * whole.reconstruction)
        #expect(report.kl > 0)
        let images = try session.decode([Float](repeating: 0, count: 3 * 5), count: 5)
        #expect(images.count == 5 * 16 && images.allSatisfy { $0 > 0 && $0 < 1 })
        let path = try temporaryDirectory() + "/grid.png"
        try ImageGrid(columns: 3, imageHeight: 4, imageWidth: 4).write(images, count: 5, to: path)
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 3 * 6 + 2 && height == 2 * 6 + 2)
    }
}

/// The default model (784-400-20, batch 128): one training step (forward, backward, Adam) and
/// ten steps agree between the CPU and OpenCL backends within 1e-4 relative.
@Suite struct BackendAgreementTests {
    @Test func defaultVAETrainingStepsAgreeAcrossBackends() throws {
        let data = try Dataset.load(directory: Dataset.fashionMNISTDirectory, split: .test).prefix(128)
        var model = ModelConfiguration()
        model.inputSize = 784
        let trainers = try backends().map { try Trainer(model: model, training: TrainingConfiguration(), data: data, backend: $0.1) }
        try trainers.forEach { try $0.trainEpoch() }
        let afterOne = try trainers.map { try $0.parameterValues() }
        #expect(relativeDifference(afterOne[0], afterOne[1]) < 1e-4, "after one step")
        for _ in 1..<10 { try trainers.forEach { try $0.trainEpoch() } }
        let afterTen = try trainers.map { try $0.parameterValues() }
        #expect(relativeDifference(afterTen[0], afterTen[1]) < 1e-4, "after ten steps")
        #expect(relativeDifference(afterOne[0], afterTen[0]) > 1e-3, "the parameters moved")
    }

    /// The default conv VAE's layers (conv 32, 64, dense 256, latent 20, transposed convs back),
    /// batch 128 of real images: every parameter's gradient of the first step agrees between the
    /// backends, and so do the weights after ten steps. With tanh, not ReLU: the two backends'
    /// sums round differently, and a ReLU input within rounding of 0 (CPU 7.5e-9, OpenCL 0 at
    /// one of the 802,816 outputs of the first transposed convolution for these images) switches
    /// that element's gradient off on one backend only, which moves the gradients above it by
    /// 2.5e-3: a true difference of the function, not of the kernels.
    @Test func defaultConvVAEGradientsAndStepsAgreeAcrossBackends() throws {
        let data = try Dataset.load(directory: Dataset.fashionMNISTDirectory, split: .test).prefix(128)
        var model = ModelConfiguration()
        model.architecture = .conv
        model.activation = "tanh"
        var gradients: [[String: [Float]]] = []
        for (_, backend) in try backends() {
            let g = Graph()
            let vae = try VariationalAutoencoder(model, in: g)
            let x = try g.input("x", Shape(128, 784))
            let (_, loss) = try vae.negativeELBO(x, in: g, seed: 1)
            let grads = try g.gradients(of: loss, with: vae.parameters)
            let executor = try Executor(graph: g, backend: backend, seed: 1)
            try executor.setValue(data.images, for: x)
            let plan = try executor.compile(outputs: grads)
            try executor.run(plan, context: RunContext(step: 0))
            gradients.append(Dictionary(uniqueKeysWithValues: try zip(vae.parameters, grads).map { (g.name($0.0), try executor.value(of: $0.1, in: plan)) }))
        }
        #expect(gradients[0].count == 18 && gradients[0].values.allSatisfy { $0.contains { $0 != 0 } })
        #expect(relativeDifference(gradients[0], gradients[1]) < 1e-4, "first-step gradients")
        let trainers = try backends().map { try Trainer(model: model, training: TrainingConfiguration(), data: data, backend: $0.1) }
        for _ in 0..<10 { try trainers.forEach { try $0.trainEpoch() } }
        let afterTen = try trainers.map { try $0.parameterValues() }
        #expect(relativeDifference(afterTen[0], afterTen[1]) < 1e-4, "after ten steps")
    }
}
