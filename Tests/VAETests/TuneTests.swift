import Foundation
import OpenCLBackend
import Testing
@testable import VAE

/// `vae tune` on PoCL: it measures candidates, stores the winner per device and driver beside
/// the kernel binaries, later commands use it, and a damaged or unfit entry is named and
/// replaced by the defaults.
@Suite struct TuneTests {
    @Test func tuneStoresTheWinnerAndTrainingUsesIt() throws {
        let dir = try temporaryDirectory()
        let cache = ["SWIFT_VAE_KERNEL_CACHE": dir + "/kernels"]
        let tune = try vae(["tune", "--device", "pthread", "--batch-size", "16", "--steps", "1", "--candidates", "3"], in: dir, environment: cache)
        #expect(tune.status == 0, "\(tune.error)")
        #expect(tune.output.contains("[3] ") && tune.output.contains("(default)") && tune.output.contains("best: "), "\(tune.output)")
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir + "/kernels").filter { $0.hasPrefix("tuning-") }
        #expect(entries.count == 1, "\(entries)")

        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 32, side: 4, testCount: 8)
        let train = ["train", "--backend", "opencl", "--device", "pthread", "--data", "data", "--epochs", "1", "--batch-size", "8", "--hidden", "5",
                     "--latent", "2", "--overwrite"]
        let tuned = try vae(train + ["--out", "run"], in: dir, environment: cache)
        #expect(tuned.status == 0 && tuned.output.contains("tuned kernels: "), "\(tuned.output) \(tuned.error)")

        // A damaged entry: named, deleted, and the defaults used.
        let file = dir + "/kernels/" + entries[0]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count - 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: file))
        let damaged = try vae(train + ["--out", "run"], in: dir, environment: cache)
        #expect(damaged.status == 0 && !damaged.output.contains("tuned kernels"), "\(damaged.output)")
        #expect(damaged.error.contains("tuned kernel configuration") && damaged.error.contains("was damaged"), "\(damaged.error)")
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test func anEntryTheDeviceCannotRunIsIgnoredAndForgetRemovesOne() throws {
        let dir = try temporaryDirectory()
        let kernels = URL(fileURLWithPath: dir + "/kernels")
        let cache = ["SWIFT_VAE_KERNEL_CACHE": kernels.path]
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 16, side: 4, testCount: 8)
        let train = ["train", "--backend", "opencl", "--device", "pthread", "--data", "data", "--epochs", "1", "--batch-size", "8", "--hidden", "5",
                     "--latent", "2", "--out", "run", "--overwrite"]
        let device = try OpenCLDevice.select("pthread")
        let huge = KernelTuning(structure: .gpu, tm: 512, tn: 512, tk: 64, wm: 2, wn: 2)  // 65,536 work-items, 264 KiB of local memory
        #expect(!huge.fits(device))
        _ = try huge.store(for: device, in: kernels)
        let unfit = try vae(train, in: dir, environment: cache)
        #expect(unfit.status == 0 && unfit.error.contains("does not fit"), "\(unfit.error)")
        #expect(KernelTuning.stored(for: device, in: kernels).tuning == nil, "deleted")
        _ = try KernelTuning(structure: .cpu).store(for: device, in: kernels)
        #expect(KernelTuning.stored(for: device, in: kernels).tuning == KernelTuning(structure: .cpu))
        let forget = try vae(["tune", "--device", "pthread", "--forget"], in: dir, environment: cache)
        #expect(forget.status == 0 && forget.output.contains("forgot"), "\(forget.output)")
        #expect(KernelTuning.stored(for: device, in: kernels).tuning == nil)
    }
}
