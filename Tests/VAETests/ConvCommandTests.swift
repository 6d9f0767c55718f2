import Foundation
import Testing
@testable import VAE

/// `vae train --architecture conv` and every command that uses a model, on a conv checkpoint.
@Suite struct ConvCommandTests {
    @Test(arguments: ["cpu", "opencl"])
    func convModelTrainsAndEveryCommandUsesIt(_ backend: String) throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 64, side: 9, testCount: 24)
        let flags = ["--architecture", "conv", "--channels", "3,5", "--kernel", "3", "--dense", "16", "--latent", "2"]
        let train = try vae(["train", "--backend", backend, "--data", "data", "--epochs", "2", "--batch-size", "16", "--out", "run"] + flags, in: dir)
        #expect(train.status == 0, "\(train.error)")
        #expect(train.output.contains("conv 1×9×9-3-5 k3-16-2"), "\(train.output)")
        let checkpoint = try Checkpoint(contentsOf: dir + "/run/model.safetensors")
        let (model, _) = try CheckpointFormat.configurations(checkpoint, path: "run")
        #expect(model.architecture == .conv && model.imageShape == [1, 9, 9] && model.convChannels == [3, 5])
        // 9 → 5 → 3 and back: the decoder's output paddings restore exactly 9×9.
        #expect(checkpoint["decoder.deconv.1.weight"]?.shape == [3, 1, 3, 3])

        let resumed = try vae(["train", "--backend", backend, "--data", "data", "--epochs", "3", "--batch-size", "16", "--resume", "run"] + flags, in: dir)
        #expect(resumed.status == 0 && resumed.output.contains("epoch 3/3"), "\(resumed.error)")
        let mlpResume = try vae(["train", "--backend", backend, "--data", "data", "--epochs", "4", "--batch-size", "16", "--resume", "run", "--latent", "2"], in: dir)
        #expect(mlpResume.status != 0 && mlpResume.error.contains("different model"), "\(mlpResume.error)")

        let common = ["--backend", backend, "--checkpoint", "run"]
        let evaluate = try vae(["evaluate", "--data", "data", "--importance-samples", "20", "--json"] + common, in: dir)
        #expect(evaluate.status == 0, "\(evaluate.error)")
        let report = try JSONSerialization.jsonObject(with: Data(evaluate.output.utf8)) as? [String: Any]
        #expect(report?["examples"] as? Int == 24)
        for step in [["sample", "--count", "4", "--out", "samples.png"], ["sample", "--manifold", "--grid", "3", "--out", "manifold.png"],
                     ["reconstruct", "--data", "data", "--count", "4", "--out", "recon.png"],
                     ["interpolate", "--data", "data", "--from", "0", "--to", "3", "--steps", "3", "--out", "path.png"],
                     ["encode", "--data", "data", "--out", "latents.csv"],
                     ["score", "--data", "data", "--normal-classes", "0,1,2", "--out", "scores.csv"]] {
            let result = try vae(step + common, in: dir)
            #expect(result.status == 0, "\(step[0]): \(result.error)")
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(step[step.count - 1])"), "\(step[0]) wrote nothing")
        }
    }

    @Test func shapesAConvModelCannotTakeAreRefusedByName() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 32, side: 3, testCount: 8)
        try expectCleanFailure(["train", "--backend", "cpu", "--data", "data", "--batch-size", "8", "--architecture", "conv", "--kernel", "4", "--out", "r"], in: dir,
                               ["the image shape 1×3×3", "convolution 2 would get 1×1 pixels"])
        try expectCleanFailure(["train", "--backend", "cpu", "--data", "data", "--architecture", "resnet", "--out", "r"], in: dir,
                               ["--architecture resnet", "mlp or conv"])
        try expectCleanFailure(["train", "--backend", "cpu", "--data", "data", "--architecture", "conv", "--channels", "0", "--out", "r"], in: dir,
                               ["--channels 0"])
    }
}
