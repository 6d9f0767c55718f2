import Engine
import Foundation
import Testing
@testable import VAE

/// A training set larger than the device budget is streamed in shards and trains exactly as
/// the whole set on the device does.
@Suite struct StreamingTests {
    @Test func shardedTrainingGivesTheInMemoryLossCurveAndWeights() throws {
        let data = syntheticDataset(count: 250)  // 7 full batches of 32; the last shard is short
        let bytesPerExample = data.exampleSize * 4 + 4
        for (name, backend) in try backends() {
            let whole = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend)
            #expect(whole.shardExamples == nil)
            // A budget for 2.5 batches: shards of 2 batches (64 examples), 4 shards per epoch.
            let streamed = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend,
                                       dataBudget: bytesPerExample * 80)
            #expect(streamed.shardExamples == 64, "\(name)")
            for epoch in 0..<3 {
                let (a, b) = (try whole.trainEpoch(), try streamed.trainEpoch())
                #expect(a == b, "\(name) epoch \(epoch): in memory \(a), streamed \(b)")
            }
            #expect(try whole.parameterValues() == (try streamed.parameterValues()), "\(name)")
        }
    }

    /// 8-bit data goes to the device as bytes and a palette (`gatherPalette`) and trains exactly
    /// as the same values streamed as floats.
    @Test func eightBitDataIsHeldAsBytesAndTrainsAsItsFloats() throws {
        var data = syntheticDataset(count: 250)
        data.images = data.images.map { ($0 * 255).rounded() / 255 }
        for (name, backend) in try backends() {
            let bytes = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend)
            #expect(bytes.shardExamples == nil && bytes.plans[0].opNames.contains("gatherPalette(rows: 32)"), "\(name)")
            // 20 bytes per example on the device as bytes, 68 as floats: this budget streams floats.
            let floats = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend, dataBudget: 4000)
            #expect(floats.shardExamples != nil && !floats.plans[0].opNames.contains { $0.hasPrefix("gatherPalette") }, "\(name)")
            for epoch in 0..<2 {
                let (a, b) = (try bytes.trainEpoch(), try floats.trainEpoch())
                #expect(a == b, "\(name) epoch \(epoch): bytes \(a), floats \(b)")
            }
            #expect(try bytes.parameterValues() == (try floats.parameterValues()), "\(name)")
        }
    }

    @Test func bytePaletteTakesOnlyValuesThatRoundTrip() throws {
        let eightBit = (0..<1000).map { Float($0 % 256) / 255 }
        let p = try #require(BytePalette(eightBit))
        #expect(p.bytes.map { p.palette[Int($0)] } == eightBit)
        let scaled = (0..<256).map { Float($0) * (1 / 255 as Float) }  // the IDX reader's form
        let q = try #require(BytePalette(scaled))
        #expect(q.bytes.map { q.palette[Int($0)] } == scaled)
        #expect(BytePalette([0, 1, 0.5]) != nil)
        #expect(BytePalette([0.5, 0.5000001]) == nil)  // two floats for one byte
        #expect(BytePalette([0, 1.01]) == nil)
        #expect(BytePalette([-0.2, 0]) == nil)
        #expect(BytePalette([0, .nan]) == nil)
    }

    @Test func aStreamedRunStoppedInsideAShardResumesExactly() throws {
        let data = syntheticDataset(count: 256)
        let budget = (data.exampleSize * 4 + 4) * 96  // shards of 3 batches
        for (name, backend) in try backends() {
            let straight = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend, dataBudget: budget)
            for _ in 0..<2 { try straight.trainEpoch() }
            let first = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend, dataBudget: budget)
            var steps = 0
            try first.trainEpoch(shouldStop: { steps += 1; return steps == 4 })  // stops after step 4, inside shard 1
            #expect(first.stepInEpoch == 4)
            let resumed = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend, dataBudget: budget)
            try resumed.restore(try first.checkpoint(), path: "memory")
            for _ in 0..<2 { try resumed.trainEpoch() }
            #expect(try straight.parameterValues() == (try resumed.parameterValues()), "\(name)")
        }
    }

    @Test func aBudgetBelowOneBatchIsRefused() throws {
        let data = syntheticDataset(count: 64)
        let error = #expect(throws: ConfigurationError.self) {
            try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: try backends()[0].1, dataBudget: 100)
        }
        #expect(error?.description.contains("at least one batch of training data") == true, "\(error?.description ?? "")")
    }

    @Test func theCommandStreamsUnderADeviceMemoryBudget() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 200, side: 4, testCount: 20)
        let run = try vae(["train", "--backend", "cpu", "--data", "data", "--hidden", "8", "--latent", "2", "--epochs", "1",
                           "--batch-size", "16", "--device-memory", "2K", "--out", "run"], in: dir)
        #expect(run.status == 0 && run.output.contains("streamed to the device in shards of 16 examples (200 in all)"), "\(run.output) \(run.error)")
        let bad = try vae(["train", "--backend", "cpu", "--data", "data", "--device-memory", "lots", "--out", "run2"], in: dir)
        #expect(bad.status != 0 && bad.error.contains("--device-memory"), "\(bad.error)")
    }
}
