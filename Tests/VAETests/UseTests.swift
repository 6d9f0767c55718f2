import CPUBackend
import Engine
import Foundation
import Testing
@testable import VAE

@Suite struct UseTests {
    /// A model trained a little on the synthetic data, in a session on `backend`.
    func trainedSession(_ backend: any Backend = CPUBackend()) throws -> (InferenceSession, Dataset) {
        let data = syntheticDataset(count: 96)
        let trainer = try Trainer(model: smallModel(), training: smallTraining(), data: data, backend: backend)
        for _ in 0..<3 { try trainer.trainEpoch() }
        return (try InferenceSession(architecture: smallModel(), parameters: try trainer.parameterValues(), backend: backend), data)
    }

    @Test func importanceWeightedEstimateIsBelowTheELBOAndTightensWithK() throws {
        for (name, backend) in try backends() {
            let (session, data) = try trainedSession(backend)
            let subset = data.prefix(24)
            let elbo = try session.exampleScores(subset, seed: 3).negativeELBO.reduce(0, +) / 24
            var previous = Double.infinity
            for k in [1, 10, 200] {
                let nll = try session.importanceWeightedNegativeLogLikelihood(subset, samples: k, chunk: 64, seed: 3).reduce(0, +) / 24
                #expect(nll <= previous + 1e-3, "\(name): K = \(k) gave \(nll) after \(previous)")
                previous = nll
            }
            #expect(previous < elbo, "\(name): −log p(x) \(previous) must be below −ELBO \(elbo)")
            // K = 1 is itself a one-sample −ELBO estimate: close to the mean −ELBO.
            let single = try session.importanceWeightedNegativeLogLikelihood(subset, samples: 1, seed: 9).reduce(0, +) / 24
            #expect(abs(single - elbo) < 0.1 * abs(elbo))
        }
    }

    @Test func logSumExpMatchesAFloat64Reference() {
        #expect(logSumExp([1000, 1000]) == 1000 + log(2.0))
        #expect(abs(logSumExp([-1e4, -1e4 + 1]) - (-1e4 + 1 + log(1 + exp(-1.0)))) < 1e-9)
        #expect(logSumExp([]) == -.infinity)
    }

    @Test func rocAUCOfPerfectRandomAndTiedScores() {
        let positive = (0..<1000).map { $0 % 3 == 0 }
        #expect(rocAUC(scores: positive.map { $0 ? 2.0 : 1.0 }, positive: positive) == 1)
        #expect(rocAUC(scores: positive.map { $0 ? 0.0 : 1.0 }, positive: positive) == 0)
        #expect(rocAUC(scores: [Double](repeating: 5, count: 1000), positive: positive) == 0.5)
        let random = Philox.uniforms(count: 1000, bound: 1, seed: 5, stream: 0).map(Double.init)
        let auc = rocAUC(scores: random, positive: positive) ?? 0
        #expect(abs(auc - 0.5) < 0.05)
        #expect(rocAUC(scores: [1, 2], positive: [true, true]) == nil)
    }

    @Test func samplingAndInterpolationAreDeterministic() throws {
        let (session, _) = try trainedSession()
        var z = [Float](repeating: 0, count: 5 * 3)
        z.withUnsafeMutableBufferPointer { Philox.fillNormals($0.baseAddress!, count: 15, seed: 4, step: 0, sample: 0) }
        #expect(try session.decode(z, count: 5) == session.decode(z, count: 5))
        let path = interpolate([1, 0], [0, 2], steps: 5, spherical: true)
        #expect(path.first == [1, 0] && path.last.map { abs($0[1] - 2) < 1e-6 } == true)
        let norms = path.map { ($0[0] * $0[0] + $0[1] * $0[1]).squareRoot() }
        #expect(norms.allSatisfy { $0 >= 0.99 })  // slerp does not cut the corner
        #expect(interpolate([1, 0], [0, 2], steps: 3, spherical: false)[1] == [0.5, 1])
    }

    @Test func npyFilesHaveValidHeadersAndNumpyReadsThem() throws {
        let data = NumpyFile.encode([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        #expect(Array(data.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: data[10..<10 + headerLength], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") && header.hasSuffix("\n"))
        #expect(data.count == 10 + headerLength + 24)
        let dir = try temporaryDirectory()
        try NumpyFile.write(data, to: dir + "/a.npy")
        try NumpyFile.write(NumpyFile.encode([7, 8, 9] as [UInt8], shape: [3]), to: dir + "/b.npy")
        let output = try runPython("""
            import numpy as np, sys
            a = np.load(sys.argv[1] + '/a.npy'); b = np.load(sys.argv[1] + '/b.npy')
            print(a.shape, a.dtype, float(a[1, 2]), b.dtype, b.tolist())
            """, dir)
        #expect(output.contains("(2, 3) float32 6.0 uint8 [7, 8, 9]"))
    }

    @Test func normalQuantileInvertsTheCDF() {
        #expect(abs(normalQuantile(0.5)) < 1e-9)
        #expect(abs(normalQuantile(0.975) - 1.959963985) < 1e-6)
        #expect(abs(normalQuantile(0.01) + 2.326347874) < 1e-6)
    }

    @Test func lossPlotDrawsBothCurves() {
        let svg = LossPlot(metricsCSV: "epoch,step,train_loss,test_neg_elbo\n1,10,300,290\n2,20,250,255\n").svg()
        #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("train −ELBO") && svg.contains("test −ELBO"))
    }
}

/// Runs python3 with a script and arguments; returns stdout (the test fails on a non-zero exit).
func runPython(_ script: String, _ arguments: String...) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "python3 failed: \(output)")
    return output
}
