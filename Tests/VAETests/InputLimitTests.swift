import CPUBackend
import Engine
import Foundation
import Testing
@testable import VAE

/// Sizes from users are checked before anything is allocated, labels must exist, cached kernels
/// and checkpoints are verified, and evaluation noise differs between batches (issue
/// "hostile-input round two", classes 3, 4, 6, 7 and 9).
@Suite struct InputLimitTests {
    /// Class 3: huge or negative sizes from flags end in a message naming the flag (and, for
    /// memory, the size and the limit), never a trap.
    @Test func hugeAndNegativeFlagsAreRefusedByName() throws {
        let dir = try FailureTests.prepared()
        let train = ["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--latent", "2", "--out", "x"]
        let memory = ["more than this machine's memory"]
        try expectCleanFailure(train + ["--hidden", "100000000000"], in: dir, ["--hidden", "needs 5.8 TiB"] + memory)
        try expectCleanFailure(train + ["--hidden", "9223372036854775807,9223372036854775807"], in: dir, ["--hidden"] + memory)
        try expectCleanFailure(train + ["--hidden", Array(repeating: "4", count: 101).joined(separator: ",")], in: dir, ["at most 100 hidden layers"])
        try expectCleanFailure(train.map { $0 == "2" ? "4000000000000" : $0 } + ["--hidden", "8"], in: dir, ["--latent"] + memory)
        try expectCleanFailure(train + ["--hidden", "8", "--samples", "100000000"], in: dir, ["--samples 100000000", "at most 1000000"])
        try expectCleanFailure(train.map { $0 == "16" ? "64" : $0 } + ["--hidden", "100000", "--samples", "900"], in: dir,
                               ["--batch-size 64 and --samples 900", "activations"] + memory)
        try expectCleanFailure(train + ["--hidden", "8", "--batch-size", "9223372036854775807"], in: dir, ["at most the 64 training examples"])
        try expectCleanFailure(train + ["--hidden", "8", "--limit=-5"], in: dir, ["--limit -5"])
        let model = ["--backend", "cpu", "--checkpoint", "run"]
        try expectCleanFailure(["sample"] + model + ["--count", "9223372036854775807"], in: dir, ["--count 9223372036854775807"] + memory)
        try expectCleanFailure(["sample"] + model + ["--count", "100000000000"], in: dir, ["--count 100000000000"] + memory)
        try expectCleanFailure(["sample"] + model + ["--manifold", "--grid", "3037000500"], in: dir, ["--grid 3037000500"] + memory)
        try expectCleanFailure(["interpolate"] + model + ["--data", "data", "--steps", "9223372036854775807"], in: dir, ["--steps"] + memory)
        try expectCleanFailure(["reconstruct"] + model + ["--data", "data", "--start", "9223372036854775807"], in: dir, ["--start/--count"])
        try expectCleanFailure(["reconstruct"] + model + ["--data", "data", "--count", "9223372036854775807"], in: dir, ["--start/--count"])
        try expectCleanFailure(["evaluate"] + model + ["--data", "data", "--limit=-5"], in: dir, ["--limit -5"])
        for k in ["9223372036854775807", "-1"] {
            try expectCleanFailure(["evaluate"] + model + ["--data", "data", "--importance-samples=\(k)"], in: dir, ["--importance-samples \(k)"])
        }
        try expectCleanFailure(["score"] + model + ["--data", "data", "--score", "iwae", "--importance-samples", "9223372036854775807"], in: dir,
                               ["--importance-samples"])
    }

    /// Class 3: importance sampling with a billion samples shows progress within seconds,
    /// inside the first example, instead of hanging silently.
    @Test func billionsOfImportanceSamplesShowProgressAtOnce() throws {
        let dir = try FailureTests.prepared()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try vaeExecutable())
        process.arguments = ["evaluate", "--backend", "cpu", "--checkpoint", "run", "--data", "data", "--limit", "2", "--importance-samples", "1000000000"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        // A silent hang must fail the test, not stall it: the process is killed after 30 s.
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 30) { kill(pid, SIGKILL) }
        var seen = ""
        while !seen.contains("examples, ETA") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let waited = Date().timeIntervalSince(started)
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGTERM, "SIGTERM should end evaluate")
        #expect(seen.contains("K = 1000000000 samples each"), "\(seen)")
        #expect(seen.contains("0.0/2 examples, ETA") || seen.contains("/2 examples, ETA"), "\(seen)")
        // Two seconds of sampling after start-up; a debug build on a loaded machine gets slack.
        #expect(waited < 10, "first progress after \(waited) s: \(seen)")
    }

    /// Class 3: a gzip stream that inflates past its IDX header is stopped there; multi-member
    /// gzip is read whole; a header promising more than memory holds is refused before reading.
    @Test func gzipIsInflatedOnlyAsFarAsTheHeaderPromises() throws {
        let dir = try temporaryDirectory()
        let array = IDXArray(dimensions: [64, 4, 4], bytes: (0..<1024).map { UInt8($0 % 251) })
        // A bomb: a valid header for 1,024 bytes, then 200 MB of zeros (about 200 KB compressed).
        try writeGzip(array.encoded + [UInt8](repeating: 0, count: 200 << 20), to: dir + "/bomb.gz")
        let started = Date()
        let bomb = #expect(throws: DataError.self) { try IDXArray(contentsOf: dir + "/bomb.gz") }
        #expect(bomb?.description.contains("inflates to more than the 1024 bytes of data its IDX header promises") == true, "\(String(describing: bomb))")
        #expect(Date().timeIntervalSince(started) < 5)
        // cat a.gz b.gz: two members, one file.
        let bytes = array.encoded
        try writeGzip(Array(bytes[..<300]), to: dir + "/a.gz")
        try writeGzip(Array(bytes[300...]), to: dir + "/b.gz")
        var joined = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.gz"))
        joined.append(try Data(contentsOf: URL(fileURLWithPath: dir + "/b.gz")))
        try joined.write(to: URL(fileURLWithPath: dir + "/multi.gz"))
        #expect(try IDXArray(contentsOf: dir + "/multi.gz") == array)
        try (joined + Data([0x41, 0x42, 0x43])).write(to: URL(fileURLWithPath: dir + "/trailing.gz"))
        #expect(throws: DataError.self) { try IDXArray(contentsOf: dir + "/trailing.gz") }
        // A header that promises more than the limit is refused before the data is read.
        try writeGzip(IDXArray(dimensions: [1000, 28, 28], bytes: []).encoded, to: dir + "/huge.gz")
        let huge = #expect(throws: DataError.self) { try IDXArray(contentsOf: dir + "/huge.gz", limit: 100_000) }
        #expect(huge?.description.contains("its header promises 1000 × 28 × 28 = 784000 bytes") == true, "\(String(describing: huge))")
        // The command line says the same for a data folder whose header claims 2³¹ images.
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 8)
        try writeGzip(IDXArray(dimensions: [1 << 31, 28, 28], bytes: []).encoded, to: dir + "/data/train-images-idx3-ubyte.gz")
        try expectCleanFailure(["train", "--backend", "cpu", "--data", "data", "--out", "x"], in: dir,
                               ["train-images-idx3-ubyte.gz is too large", "2147483648 × 28 × 28"])
    }

    /// Class 3: inputs that are FIFOs or devices (which could block or never end) are refused by
    /// name instead of read: data files, checkpoints and metrics.
    @Test func inputsThatAreNotRegularFilesAreRefused() throws {
        let dir = try FailureTests.prepared()
        let result = try shell("""
            mkdir fifo && cp data/* fifo/ && rm fifo/train-images-idx3-ubyte.gz && mkfifo fifo/train-images-idx3-ubyte.gz &&
            mkfifo ck.safetensors && ln -s /dev/zero zero.safetensors && mkdir plotted && ln -s /dev/zero plotted/metrics.csv
            """, in: dir)
        #expect(result.status == 0, "\(result.error)")
        try expectCleanFailure(["train", "--backend", "cpu", "--data", "fifo", "--out", "x"], in: dir,
                               ["cannot read fifo/train-images-idx3-ubyte.gz: it is not a regular file"])
        for checkpoint in ["ck.safetensors", "zero.safetensors"] {
            try expectCleanFailure(["sample", "--backend", "cpu", "--checkpoint", checkpoint], in: dir, ["\(checkpoint): it is not a regular file"])
        }
        try expectCleanFailure(["plot", "--run", "plotted"], in: dir, ["plotted/metrics.csv: it is not a regular file"])
    }

    /// Class 3 in the engine: a graph whose sizes overflow, or an executor whose tensors would
    /// not fit the backend's memory, throws before allocating and names the tensor.
    @Test func theExecutorRefusesWhatDoesNotFitTheBackend() throws {
        let huge = Graph()
        #expect(throws: GraphError.tooLarge(what: "tensor \"w\"", shape: Shape(Int.max, 2))) { try huge.parameter("w", Shape(Int.max, 2), .zeros) }
        let g = Graph()
        let w = try g.parameter("w", Shape(1000, 1000), .zeros)
        let x = try g.input("x", Shape(4, 1000))
        let y = try g.matmul(x, w)
        let small = LimitedBackend(maxBuffer: 1 << 20, total: 8 << 20)
        let tooBig = #expect(throws: BackendError.self) { try Executor(graph: g, backend: small) }
        #expect(tooBig?.description.contains("tensor \"w\" [1000×1000] needs 3.8 MiB") == true, "\(String(describing: tooBig))")
        let roomy = LimitedBackend(maxBuffer: 4 << 20, total: 4_020_000)
        let executor = try Executor(graph: g, backend: roomy)
        let plan = #expect(throws: BackendError.self) { try executor.compile(outputs: [y]) }
        #expect(plan?.description.contains("intermediate tensors") == true, "\(String(describing: plan))")
        // A training set larger than the device's largest buffer is streamed in shards that fit it
        // (one batch of 32 × 68 bytes within 4 KiB), not refused.
        let narrow = LimitedBackend(maxBuffer: 4096, total: 1 << 30)
        let streamed = try Trainer(model: smallModel(), training: smallTraining(), data: syntheticDataset(count: 256), backend: narrow)
        #expect(streamed.shardExamples == 32)
    }

    /// Class 4: labels that the data does not contain are errors that list the labels it has.
    @Test func labelFlagsMustNameLabelsThatExist() throws {
        let dir = try FailureTests.prepared()
        let train = ["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--hidden", "8", "--latent", "2", "--out", "x"]
        try expectCleanFailure(train + ["--exclude-classes", "42"], in: dir, ["--exclude-classes names label 42", "its labels are 0,1,2,3,4,5,6,7,8,9"])
        try expectCleanFailure(train + ["--exclude-classes", "3,300"], in: dir, ["label 300"])
        try expectCleanFailure(train + ["--exclude-classes", "0,1,2,3,4,5,6,7,8,9"], in: dir, ["leaves no training examples"])
        let score = ["score", "--backend", "cpu", "--checkpoint", "run", "--data", "data", "--out", "s.csv"]
        try expectCleanFailure(score + ["--normal-classes", "42"], in: dir, ["--normal-classes names label 42", "0,1,2,3,4,5,6,7,8,9"])
        try expectCleanFailure(score + ["--normal-classes", "9,8,7,6,5,4,3,2,1,0"], in: dir, ["names every label the data has"])
        let fine = try vae(score + ["--normal-classes", "0,1"], in: dir)
        #expect(fine.status == 0 && fine.output.contains("ROC AUC"), "\(fine.error)")
    }

    /// Class 6: a truncated, garbled, emptied or foreign kernel-cache entry is found before the
    /// driver sees it, deleted, rebuilt and reported in one line; the run goes on.
    @Test(arguments: ["truncate", "garble", "empty", "foreign", "folder"])
    func aDamagedKernelCacheIsRebuilt(_ damage: String) throws {
        let dir = try FailureTests.prepared()
        let cache = ["SWIFT_VAE_KERNEL_CACHE": dir + "/kernels"]
        let evaluate = ["evaluate", "--backend", "opencl", "--checkpoint", "run", "--data", "data", "--importance-samples", "0"]
        #expect(try vae(evaluate, in: dir, environment: cache).status == 0)
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir + "/kernels").filter { $0.hasSuffix(".bin") }
        #expect(entries.count == 1)
        let file = URL(fileURLWithPath: dir + "/kernels/" + (entries.first ?? ""))
        var bytes = [UInt8](try Data(contentsOf: file))
        switch damage {
        case "truncate": bytes = Array(bytes.prefix(bytes.count / 3))
        case "garble": bytes[bytes.count / 2] ^= 0x5A
        case "empty": bytes = []
        default: bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        }
        if damage == "folder" {
            try FileManager.default.removeItem(at: file)
            try FileManager.default.createDirectory(at: file, withIntermediateDirectories: false)
        } else {
            try Data(bytes).write(to: file)
        }
        let repaired = try vae(evaluate, in: dir, environment: cache)
        #expect(repaired.status == 0, "\(repaired.error)")
        let notes = repaired.error.split(separator: "\n").filter { $0.contains("was damaged") }
        #expect(notes.count == 1 && notes[0].contains("deleted it and rebuilt the kernels"), "\(repaired.error)")
        let again = try vae(evaluate, in: dir, environment: cache)
        #expect(again.status == 0 && !again.error.contains("damaged"), "\(again.error)")
        // A cache variable that names a file: the run works and says the cache is off.
        let unusable = try vae(evaluate, in: dir, environment: ["SWIFT_VAE_KERNEL_CACHE": dir + "/run/metrics.csv"])
        #expect(unusable.status == 0, "\(unusable.error)")
        #expect(unusable.error.contains("run/metrics.csv (from SWIFT_VAE_KERNEL_CACHE) cannot be written"), "\(unusable.error)")
    }
}

/// The CPU backend behind small memory limits, to test the executor's checks.
final class LimitedBackend: Backend {
    let base = CPUBackend()
    let memoryLimits: MemoryLimits

    init(maxBuffer: Int, total: Int) { memoryLimits = MemoryLimits(maxBufferBytes: maxBuffer, totalBytes: total, owner: "a test backend") }

    var deviceDescription: String { "limited CPU" }
    func allocate(bytes: Int) throws -> any DeviceBuffer { try base.allocate(bytes: bytes) }
    func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, offset: Int) throws { try base.write(bytes, to: buffer, offset: offset) }
    func read(_ buffer: any DeviceBuffer, offset: Int, into bytes: UnsafeMutableRawBufferPointer) throws { try base.read(buffer, offset: offset, into: bytes) }
    func execute(_ op: Op, inputs: [TensorBuffer], outputs: [TensorBuffer], context: RunContext) throws {
        try base.execute(op, inputs: inputs, outputs: outputs, context: context)
    }
    func synchronize() throws { try base.synchronize() }
}
