import Foundation
import Testing
@testable import VAE

/// Every kernel, in both kernel structures, inside Oclgrind (Debian `oclgrind`, an OpenCL 1.2
/// device simulator), which reports data races, out-of-bounds accesses and barrier divergence
/// through its log while the enqueue still succeeds: so these tests read the log and fail on
/// any line in it. CI installs Oclgrind (.ci/setup); the simulator is reached through its ICD,
/// named in a private vendors folder so that no other test sees it.
///
/// Reads of values never written are checked by poisoning instead (the last test): Oclgrind
/// 21.10's uninitialized checker crashes (a segfault in its shufflevector handling) on the
/// optimized vector code of the CPU structure, and without optimization (-O0) it reports
/// "controlflow depends on uninitialized value" at `mad` calls whose operands were all
/// uploaded, and reports it or not depending on whether the race checker is on.
@Suite(.serialized) struct OclgrindTests {
    /// Where Debian's `oclgrind` package puts the ICD library.
    static let library = "/usr/lib/oclgrind/liboclgrind-rt-icd.so"

    /// The environment that makes Oclgrind the only OpenCL platform, with `checks` on and a
    /// fresh kernel cache (so every kernel is compiled by Oclgrind), logging to `log`.
    static func environment(in dir: String, log: String, _ checks: [String: String]) throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: library) else {
            Issue.record("Oclgrind is not installed (\(library)): bash .ci/setup installs it")
            throw CocoaError(.fileNoSuchFile)
        }
        let vendors = dir + "/vendors"
        try FileManager.default.createDirectory(atPath: vendors, withIntermediateDirectories: true)
        try (library + "\n").write(toFile: vendors + "/oclgrind.icd", atomically: true, encoding: .utf8)
        return ["OCL_ICD_VENDORS": vendors, "OCLGRIND_LOG": log, "SWIFT_VAE_KERNEL_CACHE": dir + "/kernels-\(checks.keys.sorted().joined())"]
            .merging(checks) { $1 }
    }

    static func log(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Races, bounds and barriers, on the kernels as devices compile them (optimized).
    @Test func everyKernelIsFreeOfRacesAndOutOfBoundsAccesses() throws {
        let dir = try temporaryDirectory()
        let log = dir + "/oclgrind.log"
        let run = try vae(["check-kernels", "--structure", "both"], in: dir,
                          environment: try Self.environment(in: dir, log: log, ["OCLGRIND_DATA_RACES": "1"]))
        #expect(run.status == 0, "\(run.output) \(run.error)")
        #expect(run.output.contains("Oclgrind Simulator"), "\(run.output)")
        // Exit status 0: every op within tolerance and every kernel of each structure launched.
        // Each structure twice: the register tiles in float8 and float16 vectors; gemm_tiled with
        // scalar loads (Oclgrind prefers scalars) and with float4 loads.
        #expect(run.output.contains("cpu kernels (vectors of 8):") && run.output.contains("cpu kernels (vectors of 16):")
                && run.output.contains("gpu kernels (gemm_tiled loads of 1):")
                && run.output.contains("gpu kernels (gemm_tiled loads of 4):"), "\(run.output)")
        #expect(Self.log(log).isEmpty, "Oclgrind: \(Self.log(log).prefix(4000))")
    }

    /// A few training steps of the default model's shape inside Oclgrind: the executor's
    /// buffer reuse and the launch sizes of a real step, checked for races and bounds.
    @Test func trainingStepsAreFreeOfRacesAndOutOfBoundsAccesses() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 24, side: 5, testCount: 8)
        let log = dir + "/oclgrind.log"
        let run = try vae(["train", "--backend", "opencl", "--data", "data", "--epochs", "1", "--batch-size", "7", "--hidden", "9",
                           "--latent", "3", "--out", "run"], in: dir, environment: try Self.environment(in: dir, log: log, ["OCLGRIND_DATA_RACES": "1"]))
        #expect(run.status == 0, "\(run.output) \(run.error)")
        #expect(run.output.contains("Oclgrind"), "\(run.output)")
        #expect(Self.log(log).isEmpty, "Oclgrind: \(Self.log(log).prefix(4000))")
    }

    /// The same check on the real device and whole runs, where Oclgrind is too slow: with every
    /// new OpenCL buffer filled with NaN (SWIFT_VAE_POISON_BUFFERS), training an MLP and a conv
    /// model and scoring give bit-identical results, so nothing reads memory before it is written.
    @Test(arguments: [["--hidden", "9", "--latent", "3"], ["--architecture", "conv", "--channels", "3,4", "--dense", "8", "--latent", "2"]])
    func poisonedBuffersChangeNoResult(_ model: [String]) throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 40, side: 8, testCount: 12)
        var results: [String] = []
        for poison in ["", "1"] {
            let out = "run" + poison
            let environment = poison.isEmpty ? [:] : ["SWIFT_VAE_POISON_BUFFERS": "1"]
            let train = try vae(["train", "--backend", "opencl", "--data", "data", "--epochs", "2", "--batch-size", "16", "--seed", "4", "--out", out] + model,
                                in: dir, environment: environment)
            #expect(train.status == 0, "\(train.error)")
            let score = try vae(["score", "--backend", "opencl", "--checkpoint", out, "--data", "data", "--out", out + ".csv"], in: dir, environment: environment)
            #expect(score.status == 0, "\(score.error)")
            let metrics = try String(contentsOfFile: "\(dir)/\(out)/metrics.csv", encoding: .utf8).split(separator: "\n").map {
                $0.split(separator: ",").prefix(6).joined(separator: ",")  // without the timings
            }
            results.append(metrics.joined(separator: "\n") + (try String(contentsOfFile: "\(dir)/\(out).csv", encoding: .utf8)))
        }
        #expect(!results[0].contains("nan") && results[0] == results[1], "\(results[0].prefix(300)) vs \(results[1].prefix(300))")
    }
}
