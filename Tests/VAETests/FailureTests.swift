import CPUBackend
import Engine
import Foundation
import Testing
@testable import VAE

/// Every way a user or the machine can break a run ends in one clear message, a non-zero exit
/// and no stack trace (issue: "Bad input and faults").
@Suite struct FailureTests {
    /// A folder with a small data set and a trained run in `run/`.
    static func prepared() throws -> String {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 64, side: 4, testCount: 16)
        let train = try vae(["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--hidden", "8",
                             "--latent", "2", "--out", "run"], in: dir)
        #expect(train.status == 0, "\(train.error)")
        return dir
    }

    /// Runs vae and expects failure with every fragment in the message on stderr.
    func expectFailure(_ arguments: [String], in dir: String, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expectCleanFailure(arguments, in: dir, fragments, sourceLocation: sourceLocation)
    }

    @Test func badDataIsNamed() throws {
        let dir = try Self.prepared()
        let train = ["train", "--backend", "cpu", "--epochs", "1", "--batch-size", "16", "--hidden", "8", "--latent", "2", "--out", "x"]
        try expectFailure(train + ["--data", "missing"], in: dir, "data path missing does not exist")
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        try expectFailure(train + ["--data", "empty"], in: dir, "cannot read empty: expected a folder of MNIST-format IDX files", "train-images-idx3-ubyte", "or of PNG images")
        // Truncated gzip, then not gzip at all.
        try FileManager.default.createDirectory(atPath: dir + "/broken", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/broken", count: 64, side: 4)
        let images = dir + "/broken/train-images-idx3-ubyte.gz"
        let whole = try Data(contentsOf: URL(fileURLWithPath: images))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: images))
        try expectFailure(train + ["--data", "broken"], in: dir, "train-images-idx3-ubyte.gz is a damaged or truncated gzip file")
        try Data("plain text".utf8).write(to: URL(fileURLWithPath: images))
        try expectFailure(train + ["--data", "broken"], in: dir, "is not gzip data")
        // Zero examples.
        try writeGzip(IDXArray(dimensions: [0, 4, 4], bytes: []).encoded, to: images)
        try writeGzip(IDXArray(dimensions: [0], bytes: []).encoded, to: dir + "/broken/train-labels-idx1-ubyte.gz")
        try expectFailure(train + ["--data", "broken"], in: dir, "holds no examples")
        // Images of another size than the model's input.
        try FileManager.default.createDirectory(atPath: dir + "/wide", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/wide", count: 20, side: 5)
        try expectFailure(["evaluate", "--backend", "cpu", "--checkpoint", "run", "--data", "wide"], in: dir,
                          "the data has 25 values per example but the model expects 16")
    }

    @Test func badFlagsAreNamed() throws {
        let dir = try Self.prepared()
        let train = ["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--hidden", "8", "--latent", "2", "--out", "x"]
        try expectFailure(train + ["--batch-size", "0"], in: dir, "--batch-size 0", "positive")
        try expectFailure(train + ["--batch-size", "65"], in: dir, "--batch-size 65", "at most the 64 training examples")
        try expectFailure(train.map { $0 == "2" ? "0" : $0 }, in: dir, "--latent 0")
        try expectFailure(train + ["--epochs=-3"], in: dir, "--epochs -3")
        try expectFailure(train + ["--hidden", "8,0"], in: dir, "--hidden 8,0")
        try expectFailure(train + ["--hidden", "8,x"], in: dir, "--hidden 8,x", "comma-separated whole numbers")
        try expectFailure(train + ["--likelihood", "poisson"], in: dir, "--likelihood poisson", "bernoulli, gaussian, calibrated or calibrated-per-feature")
        try expectFailure(train + ["--activation", "gelu"], in: dir, "--activation gelu", "relu")
        try expectFailure(train + ["--kl", "exact"], in: dir, "--kl exact")
        try expectFailure(train + ["--schedule", "em"], in: dir, "--schedule em")
        for rate in ["nan", "inf", "-0.1", "0"] { try expectFailure(train + ["--lr=\(rate)"], in: dir, "--lr", "finite positive learning rate") }
        try expectFailure(train + ["--lr-decoder", "nan"], in: dir, "--lr-decoder")
        try expectFailure(train + ["--samples", "0"], in: dir, "--samples 0")
        try expectFailure(train + ["--beta=-1"], in: dir, "--beta -1")
        try expectFailure(["train", "--backend", "cuda"], in: dir, "cuda")
        try expectFailure(["train", "--backend", "opencl", "--device", "99", "--data", "data", "--out", "x"], in: dir,
                          "no OpenCL device matches \"99\"", "0: ")
        try expectFailure(train + ["--out", "/proc/swift-vae-test"], in: dir, "cannot write to /proc/swift-vae-test")
        try expectFailure(["sample", "--backend", "cpu", "--checkpoint", "run", "--manifold", "--grid", "0"], in: dir, "--grid 0")
        try expectFailure(["sample", "--backend", "cpu", "--checkpoint", "run", "--count", "0"], in: dir, "--count 0")
        try expectFailure(["interpolate", "--backend", "cpu", "--checkpoint", "run", "--data", "data", "--to", "500"], in: dir, "--to 500")
        try expectFailure(["encode", "--backend", "cpu", "--checkpoint", "run", "--data", "data", "--out", "l.txt"], in: dir, "ending in .npy or .csv")
        try expectFailure(["check-kernels", "--structure", "diagonal"], in: dir, "--structure diagonal", "cpu, gpu, both, device")
        try expectFailure(["check-kernels", "--device", "99"], in: dir, "no OpenCL device matches \"99\"")
        try expectFailure(["tune", "--architecture", "resnet"], in: dir, "--architecture resnet", "mlp or conv")
        try expectFailure(["tune", "--steps", "0"], in: dir, "--steps", "positive")
    }

    /// With no OpenCL platform (the ICD loader pointed at an empty vendor folder), --backend
    /// opencl explains what to install, and the default backend falls back to the CPU with a notice.
    @Test func missingOpenCLPlatformIsExplained() throws {
        let dir = try Self.prepared()
        try FileManager.default.createDirectory(atPath: dir + "/no-vendors", withIntermediateDirectories: true)
        let noOpenCL = ["OCL_ICD_VENDORS": dir + "/no-vendors"]
        let explicit = try vae(["evaluate", "--backend", "opencl", "--checkpoint", "run", "--data", "data", "--importance-samples", "0"],
                               in: dir, environment: noOpenCL)
        #expect(explicit.status != 0)
        #expect(explicit.error.contains("no OpenCL platform found") && explicit.error.contains("pocl-opencl-icd")
                && explicit.error.contains("--backend cpu"), "\(explicit.error)")
        let devices = try vae(["devices"], in: dir, environment: noOpenCL)
        #expect(devices.status != 0 && devices.error.contains("no OpenCL platform found"))
        let fallback = try vae(["evaluate", "--checkpoint", "run", "--data", "data", "--importance-samples", "0"], in: dir, environment: noOpenCL)
        #expect(fallback.status == 0, "\(fallback.error)")
        #expect(fallback.error.contains("no OpenCL device found; using the CPU backend"))
    }

    @Test func badCheckpointsAreNamed() throws {
        let dir = try Self.prepared()
        let evaluate = ["evaluate", "--backend", "cpu", "--data", "data", "--importance-samples", "0", "--checkpoint"]
        try expectFailure(evaluate + ["nothing.safetensors"], in: dir, "checkpoint nothing.safetensors does not exist")
        let good = try Data(contentsOf: URL(fileURLWithPath: dir + "/run/model.safetensors"))
        try good.prefix(good.count - 100).write(to: URL(fileURLWithPath: dir + "/cut.safetensors"))
        try expectFailure(evaluate + ["cut.safetensors"], in: dir, "cut.safetensors", "corrupt")
        try Data(good.prefix(5)).write(to: URL(fileURLWithPath: dir + "/tiny.safetensors"))
        try expectFailure(evaluate + ["tiny.safetensors"], in: dir, "is truncated")
        var c = Checkpoint(metadata: ["format": "other"])
        c.set("w", shape: [1], values: [0])
        try c.write(to: dir + "/foreign.safetensors")
        try expectFailure(evaluate + ["foreign.safetensors"], in: dir, "is not a swift-vae checkpoint")
        // Resuming with another architecture or other training flags.
        let resume = ["train", "--backend", "cpu", "--data", "data", "--epochs", "2", "--batch-size", "16", "--latent", "2", "--resume", "run"]
        try expectFailure(resume + ["--hidden", "9"], in: dir, "different model", "16-8-2", "16-9-2")
        try expectFailure(resume + ["--hidden", "8", "--lr", "0.01"], in: dir, "--lr was 0.001, now 0.01")
    }

    @Test func nonFiniteLossStopsWithTheStepAndKeepsTheLastCheckpoint() throws {
        let dir = try Self.prepared()
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/run/model.safetensors"))
        // Out-of-range weights make the loss overflow within a few steps.
        // Training afresh into a folder that holds a model is refused unless asked for.
        try expectFailure(["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--hidden", "8", "--latent", "2",
                           "--out", "run"], in: dir, "--out run", "--resume run", "--overwrite")
        try expectFailure(["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--hidden", "8", "--latent", "2",
                           "--lr", "1e30", "--out", "run", "--overwrite"], in: dir, "training stopped at step", "term")
        let after = try Data(contentsOf: URL(fileURLWithPath: dir + "/run/model.safetensors"))
        #expect(before == after)
        // At library level: NaN in the data names the reconstruction term at step 0.
        var data = syntheticDataset(count: 64)
        data.images[5] = .nan
        let trainer = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: CPUBackend())
        let error = #expect(throws: TrainingError.self) { try trainer.trainEpoch(reportEvery: 1) }
        #expect(error?.description.contains("reconstruction term") == true)
    }

    /// Ctrl-C (or SIGHUP, when the terminal goes away) stops after the current step with a
    /// checkpoint; --resume finishes the epoch.
    @Test(arguments: [SIGINT, SIGHUP])
    func interruptWritesACheckpointThatResumes(_ signal: Int32) throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 2000, side: 16, testCount: 20)
        let flags = ["--backend", "cpu", "--data", "data", "--batch-size", "4", "--hidden", "256,256", "--latent", "8"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try vaeExecutable())
        // Many epochs, so the interrupt lands inside the first one; the resume then asks for one epoch.
        process.arguments = ["train"] + flags + ["--epochs", "1000", "--out", "run"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for the first progress line, then interrupt.
        var seen = ""
        while !seen.contains("epoch 1/1000 step") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        kill(process.processIdentifier, signal)
        seen += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "\(seen)")
        #expect(seen.contains("interrupted at step"))
        let checkpoint = try Checkpoint(contentsOf: dir + "/run/model.safetensors")
        let stoppedAt = Int(checkpoint.metadata["epoch_step"] ?? "") ?? 0
        #expect(stoppedAt > 0 && checkpoint.metadata["epoch"] == "0")
        let resumed = try vae(["train"] + flags + ["--epochs", "1", "--resume", "run"], in: dir)
        #expect(resumed.status == 0, "\(resumed.error)")
        let finished = try Checkpoint(contentsOf: dir + "/run/model.safetensors")
        #expect(finished.metadata["epoch"] == "1" && finished.metadata["epoch_step"] == "0" && finished.metadata["step"] == "500")
    }

    /// A run killed with SIGKILL at any moment leaves a readable checkpoint (writes go to a
    /// temporary file that is renamed). The run writes a checkpoint every few milliseconds
    /// (one step per epoch), so the kills land during writes too.
    @Test func sigkillNeverLeavesAHalfWrittenCheckpoint() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 64, side: 16, testCount: 8)
        let checkpoint = dir + "/run/model.safetensors"
        var kills = 0
        var lastKilled: Int32 = 0
        for attempt in 0..<6 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try vaeExecutable())
            process.arguments = ["train", "--backend", "cpu", "--data", "data", "--epochs", "100000", "--batch-size", "64",
                                 "--hidden", "512", "--latent", "4", "--out", "run", "--overwrite"]
            process.currentDirectoryURL = URL(fileURLWithPath: dir)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait for a checkpoint to exist (however slow the machine), then kill at an arbitrary moment.
            let deadline = Date().addingTimeInterval(120)
            while !FileManager.default.fileExists(atPath: checkpoint) && Date() < deadline && process.isRunning { usleep(10_000) }
            usleep(UInt32(20_000 + 37_000 * attempt))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            lastKilled = process.processIdentifier
            kills += process.terminationReason == .uncaughtSignal ? 1 : 0
            let c = try Checkpoint(contentsOf: checkpoint)
            #expect(c.metadata["format"] == "swift-vae/1")
            #expect(Int(c.metadata["epoch"] ?? "") ?? 0 >= 1)
        }
        #expect(kills == 6)
        // No temporary files are left where a reader could mistake them for checkpoints, and
        // the next run clears those of killed writers.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/run").filter { $0.hasSuffix(".safetensors") }
        #expect(leftovers == ["model.safetensors"])
        // A temporary file of a writer that is gone (the last killed child) is removed by the next run.
        let stale = dir + "/run/.model.safetensors.\(lastKilled).tmp"
        FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3]))
        _ = try vae(["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "64", "--hidden", "8",
                     "--latent", "4", "--out", "run", "--overwrite"], in: dir)
        let temporary = try FileManager.default.contentsOfDirectory(atPath: dir + "/run").filter { $0.hasSuffix(".tmp") }
        #expect(temporary.isEmpty, "\(temporary)")
    }

    /// Interrupting mid-epoch and resuming gives the same weights as an uninterrupted run.
    @Test func midEpochResumeMatchesAnUninterruptedRun() throws {
        let data = syntheticDataset()
        let straight = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: CPUBackend())
        for _ in 0..<2 { try straight.trainEpoch() }
        let first = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: CPUBackend())
        var calls = 0
        try first.trainEpoch(shouldStop: { calls += 1; return calls == 3 })
        #expect(first.stepInEpoch == 3 && first.epoch == 0)
        let path = try temporaryDirectory() + "/m.safetensors"
        try first.checkpoint().write(to: path)
        let resumed = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: CPUBackend())
        try resumed.restore(try Checkpoint(contentsOf: path), path: path)
        let loss = try resumed.trainEpoch()
        try resumed.trainEpoch()
        #expect(try resumed.parameterValues() == straight.parameterValues())
        #expect(loss.isFinite)
    }
}

/// Thousands of random and mutated byte strings: the readers return a value or throw, never trap.
@Suite struct FuzzTests {
    @Test func idxAndSafetensorsReadersNeverTrap() throws {
        var c = Checkpoint(metadata: ["format": "swift-vae/1"])
        c.set("a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        c.set("b", shape: [4], values: [7, 8, 9, 10])
        let seeds: [[UInt8]] = [[UInt8](c.encoded()), IDXArray(dimensions: [3, 2, 2], bytes: Array(0..<12)).encoded,
                                IDXArray(dimensions: [5], bytes: Array(0..<5)).encoded]
        var parsed = 0, rejected = 0
        for trial in 0..<4000 {
            let r = Philox.block(counter: (UInt32(trial), 0, 0, 0), key: (0xF022, 0))
            var bytes: [UInt8]
            if trial % 4 == 0 {
                bytes = (0..<Int(r.0 % 96)).map { i in UInt8(truncatingIfNeeded: Philox.block(counter: (UInt32(trial), UInt32(i), 1, 0), key: (1, 2)).0) }
            } else {
                bytes = seeds[trial % seeds.count]
                for m in 0..<Int(r.1 % 6 + 1) {
                    let q = Philox.block(counter: (UInt32(trial), UInt32(m), 2, 0), key: (3, 4))
                    guard !bytes.isEmpty else { break }
                    let position = Int(q.0) % bytes.count
                    switch q.1 % 4 {
                    case 0: bytes[position] = UInt8(truncatingIfNeeded: q.2)
                    case 1: bytes.removeSubrange(position...)
                    case 2: bytes.insert(UInt8(truncatingIfNeeded: q.2), at: position)
                    default: bytes[position] ^= 0xFF
                    }
                }
            }
            for parse in [{ _ = try IDXArray(parsing: bytes, path: "fuzz") }, { _ = try Checkpoint(parsing: bytes, path: "fuzz") }] {
                do { try parse(); parsed += 1 } catch { rejected += 1 }
            }
        }
        #expect(parsed + rejected == 8000)
        #expect(rejected > 1000 && parsed > 100)
    }
}
