import Engine
import Testing

@Suite struct PhiloxTests {
    // Known-answer vectors of Philox4x32-10 from Random123's kat_vectors.
    @Test func philoxMatchesRandom123KnownAnswers() {
        let zero = Philox.block(counter: (0, 0, 0, 0), key: (0, 0))
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = Philox.block(counter: (.max, .max, .max, .max), key: (.max, .max))
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let pi = Philox.block(counter: (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    @Test func normalDrawsHaveUnitVarianceAndZeroMean() {
        let count = 1_000_000
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { Philox.fillNormals($0.baseAddress!, count: count, seed: 42, step: 7, sample: 0) }
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(count)
        let fourth = values.reduce(0.0) { $0 + pow(Double($1) - mean, 4) } / Double(count)
        // Standard errors at n = 10⁶: mean 0.001, variance 0.0014, kurtosis ≈ 0.005.
        #expect(abs(mean) < 0.005)
        #expect(abs(variance - 1) < 0.007)
        #expect(abs(fourth / (variance * variance) - 3) < 0.03)
        #expect(values.allSatisfy { $0.isFinite })
    }

    @Test func streamsDifferBySeedStepAndSample() {
        let a = Philox.normals(seed: 1, step: 0, sample: 0, block: 0)
        let b = Philox.normals(seed: 2, step: 0, sample: 0, block: 0)
        let c = Philox.normals(seed: 1, step: 1, sample: 0, block: 0)
        let d = Philox.normals(seed: 1, step: 0, sample: 1, block: 0)
        let e = Philox.normals(seed: 1, step: 1 << 32, sample: 0, block: 0)
        let all = [a, b, c, d, e].map { [$0.0, $0.1, $0.2, $0.3] }
        #expect(Set(all).count == 5)
    }
}

#if canImport(Glibc)
import Glibc
#endif
