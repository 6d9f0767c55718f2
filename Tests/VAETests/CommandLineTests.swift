import Foundation
import Testing
@testable import VAE

/// The `vae` executable built beside the test bundle.
func vaeExecutable() throws -> String {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vae").path,
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/vae").path,
    ]
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        Issue.record("the vae executable was not built (run `swift build --build-tests` first); looked in \(candidates)")
        throw CocoaError(.fileNoSuchFile)
    }
    return found
}

struct CommandResult {
    var status: Int32
    var output: String
    var error: String
}

/// Runs `vae` with arguments in `directory`, with `environment` added to ours.
func vae(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> CommandResult {
    try runProcess(try vaeExecutable(), arguments, in: directory, environment: environment)
}

/// Runs a program to its end and collects its exit status, stdout and stderr.
func runProcess(_ executable: String, _ arguments: [String], in directory: String, environment: [String: String]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let error = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, output: output, error: error)
}

/// `vae train` writes a run, then every command that uses a model works on it, on both backends.
@Suite struct CommandLineTests {
    @Test(arguments: ["cpu", "opencl"])
    func trainThenUseTheModel(_ backend: String) throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 120, side: 4, testCount: 40)
        let common = ["--backend", backend, "--checkpoint", "run"]
        let train = try vae(["train", "--backend", backend, "--data", "data", "--epochs", "2", "--batch-size", "16", "--hidden", "12,8",
                             "--latent", "2", "--out", "run", "--exclude-classes", "9"], in: dir)
        #expect(train.status == 0, "\(train.error)")
        #expect(train.output.contains("epoch 2/2"))
        for file in ["model.safetensors", "metrics.csv", "samples.png", "reconstructions.png", "loss.svg"] {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/run/\(file)"), "missing \(file)")
        }
        let metrics = try String(contentsOfFile: dir + "/run/metrics.csv", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 3 && metrics[0].hasPrefix("epoch,step,train_loss,test_neg_elbo"))

        let resumed = try vae(["train", "--backend", backend, "--data", "data", "--epochs", "3", "--batch-size", "16", "--hidden", "12,8",
                               "--latent", "2", "--resume", "run", "--exclude-classes", "9"], in: dir)
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.output.contains("epoch 3/3") && !resumed.output.contains("epoch 1/3"))

        // Without --out, a second run does not replace the first model: it goes to the next free folder.
        try FileManager.default.createDirectory(atPath: dir + "/runs/fashion-mnist", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/run/model.safetensors", toPath: dir + "/runs/fashion-mnist/model.safetensors")
        let second = try vae(["train", "--backend", backend, "--data", "data", "--epochs", "1", "--batch-size", "16", "--hidden", "4",
                              "--latent", "2"], in: dir)
        #expect(second.status == 0, "\(second.error)")
        #expect(FileManager.default.contents(atPath: dir + "/runs/fashion-mnist/model.safetensors") == FileManager.default.contents(atPath: dir + "/run/model.safetensors"))
        #expect(FileManager.default.fileExists(atPath: dir + "/runs/fashion-mnist-2/model.safetensors"))

        let evaluate = try vae(["evaluate", "--data", "data", "--importance-samples", "50", "--json"] + common, in: dir)
        #expect(evaluate.status == 0, "\(evaluate.error)")
        let report = try JSONSerialization.jsonObject(with: Data(evaluate.output.utf8)) as? [String: Any]
        let elbo = report?["negative_elbo"] as? Double ?? 0, nll = report?["negative_log_likelihood"] as? Double ?? .infinity
        #expect(report?["examples"] as? Int == 40 && nll < elbo)

        let steps: [[String]] = [
            ["sample", "--manifold", "--grid", "5", "--out", "manifold.png"],
            ["sample", "--count", "9", "--seed", "3", "--out", "samples.png"],
            ["reconstruct", "--data", "data", "--count", "4", "--out", "recon.png"],
            ["interpolate", "--data", "data", "--from", "0", "--to", "5", "--steps", "4", "--out", "path.png"],
            ["encode", "--data", "data", "--out", "latents.npy"],
            ["encode", "--data", "data", "--out", "latents.csv"],
            ["score", "--data", "data", "--normal-classes", "0,1,2,3,4,5,6,7,8", "--out", "scores.csv"],
            ["score", "--data", "data", "--score", "iwae", "--importance-samples", "20", "--out", "iwae.csv"],
        ]
        for step in steps {
            let result = try vae(step + common, in: dir)
            #expect(result.status == 0, "\(step[0]): \(result.error)")
            let file = step[step.count - 1]
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(file)"), "\(step[0]) wrote no \(file)")
        }
        #expect(try vae(["plot", "--run", "run", "--out", "curves.svg"], in: dir).status == 0)
        let again = try vae(["sample", "--count", "9", "--seed", "3", "--out", "samples2.png"] + common, in: dir)
        #expect(again.status == 0)
        #expect(FileManager.default.contents(atPath: dir + "/samples.png") == FileManager.default.contents(atPath: dir + "/samples2.png"))
        let score = try vae(["score", "--data", "data", "--normal-classes", "0,1,2,3,4,5,6,7,8", "--out", "s.csv"] + common, in: dir)
        #expect(score.output.contains("ROC AUC"))
        let latents = try runPython("import numpy as np, sys; a = np.load(sys.argv[1]); l = np.load(sys.argv[2]); print(a.shape, l.shape)",
                                    dir + "/latents.npy", dir + "/latents.labels.npy")
        #expect(latents.contains("(40, 4) (40,)"))
    }
}
