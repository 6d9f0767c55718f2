import CPUBackend
import Foundation
import Testing
@testable import VAE

/// A checkpoint's contents are checked, not trusted, and evaluation draws fresh noise for every
/// batch (issue "hostile-input round two", classes 7 and 9).
@Suite struct CheckpointTrustTests {
    /// A copy of the run's checkpoint with `change` applied, written to `name`.
    func tampered(_ dir: String, _ name: String, _ change: (inout Checkpoint) -> Void) throws {
        var c = try Checkpoint(contentsOf: dir + "/run/model.safetensors")
        change(&c)
        try FileManager.default.createDirectory(atPath: dir + "/" + name, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/run/metrics.csv", toPath: dir + "/\(name)/metrics.csv")
        try c.write(to: dir + "/\(name)/model.safetensors")
    }

    func setValue(_ c: inout Checkpoint, _ tensor: String, _ index: Int, _ value: Float) {
        guard var t = c[tensor] else { return }
        t.values[index] = value
        c.set(tensor, shape: t.shape, values: t.values)
    }

    /// Class 7: NaN or infinite tensors are refused on load by every command, naming the tensor.
    @Test func nonFiniteTensorsAreRefusedByName() throws {
        let dir = try FailureTests.prepared()
        try tampered(dir, "nan") { setValue(&$0, "encoder.0.weight", 3, .nan) }
        try tampered(dir, "inf") { setValue(&$0, "optimizer.v.output.bias", 0, .infinity) }
        let model = ["--backend", "cpu", "--checkpoint", "nan"], data = ["--data", "data"]
        for command in [["evaluate"] + model + data, ["score"] + model + data + ["--normal-classes", "1"], ["sample"] + model,
                        ["encode"] + model + data, ["reconstruct"] + model + data] {
            try expectCleanFailure(command, in: dir, ["checkpoint nan/model.safetensors is unusable", "tensor \"encoder.0.weight\" holds nan at index 3"])
        }
        let resume = ["train", "--backend", "cpu", "--data", "data", "--epochs", "2", "--batch-size", "16", "--hidden", "8", "--latent", "2", "--resume"]
        try expectCleanFailure(resume + ["inf"], in: dir, ["tensor \"optimizer.v.output.bias\" holds inf"])
        // Finite weights so large that the loss overflows: no scores and no AUC from them.
        try tampered(dir, "huge") { c in
            guard let t = c["logvar.bias"] else { return }
            c.set("logvar.bias", shape: t.shape, values: t.values.map { _ in 1e30 })
        }
        try expectCleanFailure(["score", "--backend", "cpu", "--checkpoint", "huge", "--data", "data", "--normal-classes", "1", "--out", "s.csv"], in: dir,
                               ["scores are not finite", "huge/model.safetensors overflows on this data"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/s.csv"))
    }

    /// Class 7: metadata of the wrong type or range is refused, and a refused resume leaves the
    /// run's model and metrics history exactly as they were.
    @Test func metadataIsTypeAndRangeChecked() throws {
        let dir = try FailureTests.prepared()
        let cases: [(String, (inout Checkpoint) -> Void, String)] = [
            ("abc", { $0.metadata["epoch"] = "abc" }, "metadata \"epoch\" is \"abc\", expected a whole number"),
            ("negative", { $0.metadata["epoch"] = "-5" }, "metadata \"epoch\" is \"-5\""),
            ("nostep", { $0.metadata["step"] = nil }, "metadata \"step\" is \"(missing)\""),
            ("badstep", { $0.metadata["step"] = "7" }, "metadata \"step\" is \"7\", expected 1 epochs × 4 steps + 0 = 4"),
            ("training", { $0.metadata["training"] = "{\"batchSize\": \"x\"}" }, "metadata \"training\""),
            ("data", { $0.metadata["data"] = "[1,2]" }, "metadata \"data\""),
            ("model", { $0.metadata["model"] = "{\"inputSize\": -3}" }, "is not a swift-vae checkpoint"),
        ]
        let resume = ["train", "--backend", "cpu", "--data", "data", "--epochs", "3", "--batch-size", "16", "--hidden", "8", "--latent", "2", "--resume"]
        for (name, change, message) in cases {
            try tampered(dir, name, change)
            let before = (fileBytes("\(dir)/\(name)/model.safetensors"), fileBytes("\(dir)/\(name)/metrics.csv"))
            try expectCleanFailure(resume + [name], in: dir, [message])
            #expect(fileBytes("\(dir)/\(name)/model.safetensors") == before.0 && fileBytes("\(dir)/\(name)/metrics.csv") == before.1, "\(name)")
        }
        // A model in the metadata too large for memory is named with the file, before any allocation.
        try tampered(dir, "huge") { $0.metadata["model"] = "{\"inputSize\":16,\"hiddenSizes\":[100000000000],\"latentSize\":2,\"activation\":\"relu\",\"likelihood\":\"bernoulli\",\"sigma\":0.1}" }
        try expectCleanFailure(["sample", "--backend", "cpu", "--checkpoint", "huge"], in: dir,
                               ["checkpoint huge/model.safetensors is damaged: its metadata \"model\"", "more than this machine's memory"])
        // Every command checks the position fields' types, not only --resume.
        for name in ["abc", "negative"] {
            try expectCleanFailure(["evaluate", "--backend", "cpu", "--checkpoint", name, "--data", "data", "--importance-samples", "0"], in: dir,
                                   ["checkpoint \(name)/model.safetensors is damaged: its metadata \"epoch\""])
        }
        // The model-using commands check the model metadata too.
        try expectCleanFailure(["evaluate", "--backend", "cpu", "--checkpoint", "model", "--data", "data"], in: dir, ["not a swift-vae checkpoint"])
    }

    /// Class 7: --resume refuses another training set (--limit, --data, --exclude-classes), as it
    /// refuses another --lr.
    @Test func resumeRefusesAnotherTrainingSet() throws {
        let dir = try FailureTests.prepared()
        try FileManager.default.createDirectory(atPath: dir + "/other", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/other", count: 64, side: 4, testCount: 16)
        // Same size, other pixels.
        let images = IDXArray(dimensions: [64, 4, 4], bytes: (0..<1024).map { UInt8($0 % 256) })
        try writeGzip(images.encoded, to: dir + "/other/train-images-idx3-ubyte.gz")
        let resume = ["train", "--backend", "cpu", "--epochs", "2", "--batch-size", "16", "--hidden", "8", "--latent", "2", "--resume", "run"]
        try expectCleanFailure(resume + ["--data", "data", "--limit", "48"], in: dir, ["another training set", "64 examples", "48 examples"])
        try expectCleanFailure(resume + ["--data", "other"], in: dir, ["another training set"])
        try expectCleanFailure(resume + ["--data", "data", "--exclude-classes", "3"], in: dir, ["--exclude-classes was [], now [3]"])
        let same = try vae(resume + ["--data", "data"], in: dir)
        #expect(same.status == 0, "\(same.error)")
    }

    /// Class 9: every evaluation batch draws its own ε (keyed by its first row's position), so
    /// identical examples in different batches get different sampled-z scores; the seed still
    /// reproduces them.
    @Test func evaluationBatchesDrawDifferentNoise() throws {
        let one = syntheticDataset(count: 1)
        let data = Dataset(images: Array((0..<1000).map { _ in one.images }.joined()), labels: [Int](repeating: 0, count: 1000),
                           exampleSize: one.exampleSize, imageShape: one.imageShape)
        let trainer = try Trainer(model: smallModel(), training: smallTraining(), data: syntheticDataset(), backend: CPUBackend())
        try trainer.trainEpoch()
        let session = try InferenceSession(architecture: smallModel(), parameters: try trainer.parameterValues(), backend: CPUBackend())
        let scores = try session.exampleScores(data, batchSize: 500, seed: 7).negativeELBO
        let firstBatch = scores[0..<500], secondBatch = scores[500..<1000]
        #expect(zip(firstBatch, secondBatch).allSatisfy { $0 != $1 }, "rows i and i + 500 share their noise")
        #expect(Set(scores).count > 990)
        #expect(try session.exampleScores(data, batchSize: 500, seed: 7).negativeELBO == scores)
        #expect(try session.exampleScores(data, batchSize: 500, seed: 8).negativeELBO != scores)
    }
}
