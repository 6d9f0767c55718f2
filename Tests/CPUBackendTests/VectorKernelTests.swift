import CPUVector
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every instruction set's copy of the CPU backend's vector loops (Sources/CPUVector) against
/// float64 references, on awkward lengths (tails shorter than any vector width included).
@Suite struct VectorKernelTests {
    /// The copies this CPU can run; the baseline is always among them.
    static let copies: [String] = ["sse2", "avx2+fma", "avx512f"].filter { vector_kernels_named($0) != nil }
    static let lengths = [1, 3, 7, 16, 33, 129, 784]

    /// Reproducible values in [low, high].
    func values(_ count: Int, seed: Int, low: Double, high: Double) -> [Float] {
        (0..<count).map { i in Float(low + (high - low) * Double((i * 7919 + seed * 104_729) % 1000) / 999) }
    }

    @Test func theWidestSupportedCopyIsChosen() throws {
        let chosen = String(cString: try #require(vector_kernels_chosen()).pointee.isa)
        #expect(chosen == Self.copies.last)
        #expect(vector_kernels_named("avx512") == nil)  // only the exact names
    }

    @Test(arguments: copies) func bernoulliLossRowsMatchTheReference(_ isa: String) throws {
        let kernels = try #require(vector_kernels_named(isa)).pointee
        for width in Self.lengths {
            let rows = 3
            let x = values(rows * width, seed: 1, low: 0, high: 1)
            // Logits past the clamp of exp and near 0, where log1p's series takes over.
            var logits = values(rows * width, seed: 2, low: -30, high: 30)
            logits[0] = 100
            if logits.count > 2 { logits[1] = -100; logits[2] = 0 }
            var out = [Float](repeating: .nan, count: rows)
            kernels.vae_loss_rows_bernoulli(&out, x, logits, rows, width)
            for r in 0..<rows {
                var expected = 0.0
                for i in r * width..<(r + 1) * width {
                    let (xi, l) = (Double(x[i]), Double(logits[i]))
                    expected += max(l, 0) + log1p(exp(-abs(l))) - xi * l
                }
                #expect(abs(Double(out[r]) - expected) <= 1e-5 * max(1, abs(expected)), "width \(width) row \(r): \(out[r]) vs \(expected)")
            }
        }
    }

    @Test(arguments: copies) func bernoulliGradientMatchesTheReference(_ isa: String) throws {
        let kernels = try #require(vector_kernels_named(isa)).pointee
        for count in Self.lengths {
            let x = values(count, seed: 3, low: 0, high: 1), logits = values(count, seed: 4, low: -40, high: 40)
            var out = [Float](repeating: .nan, count: count + 1)
            out[count] = 42  // past the end: untouched
            kernels.vae_loss_gradient_bernoulli(&out, x, logits, count, 0.5)
            for i in 0..<count {
                let expected = 0.5 * (1 / (1 + exp(-Double(logits[i]))) - Double(x[i]))
                #expect(abs(Double(out[i]) - expected) <= 1e-6, "count \(count) element \(i)")
            }
            #expect(out[count] == 42)
        }
    }

    @Test(arguments: copies) func adamMatchesTheReference(_ isa: String) throws {
        let kernels = try #require(vector_kernels_named(isa)).pointee
        let (b1, b2, lr, eps, c1, c2): (Float, Float, Float, Float, Float, Float) = (0.9, 0.999, 1e-3, 1e-8, 1 / (1 - 0.9 * 0.9), 1 / (1 - 0.999 * 0.999))
        for count in Self.lengths {
            var p = values(count + 1, seed: 5, low: -1, high: 1), m = values(count + 1, seed: 6, low: -0.1, high: 0.1)
            var v = values(count + 1, seed: 7, low: 0, high: 0.01)
            let g = values(count, seed: 8, low: -2, high: 2)
            let (p0, m0, v0) = (p, m, v)
            kernels.adam(&p, g, &m, &v, count, b1, b2, lr, eps, c1, c2)
            for i in 0..<count {
                let mi = Double(b1) * Double(m0[i]) + Double(1 - b1) * Double(g[i])
                let vi = Double(b2) * Double(v0[i]) + Double(1 - b2) * Double(g[i]) * Double(g[i])
                let pi = Double(p0[i]) - Double(lr) * mi * Double(c1) / ((vi * Double(c2)).squareRoot() + Double(eps))
                #expect(abs(Double(m[i]) - mi) <= 1e-6 && abs(Double(v[i]) - vi) <= 1e-7 && abs(Double(p[i]) - pi) <= 1e-6,
                        "count \(count) element \(i)")
            }
            #expect(p[count] == p0[count] && m[count] == m0[count] && v[count] == v0[count])  // past the end: untouched
        }
    }

    @Test(arguments: copies) func biasAndLeakyReLUAreExact(_ isa: String) throws {
        let kernels = try #require(vector_kernels_named(isa)).pointee
        for n in Self.lengths {
            for slope: Float in [0, 0.2, 1] {
                let rows = 2
                var y = values(rows * n, seed: 9, low: -1, high: 1)
                let bias = values(n, seed: 10, low: -0.5, high: 0.5), y0 = y
                kernels.bias_leaky_relu(&y, bias, rows, n, slope)
                let expected = (0..<rows * n).map { i -> Float in
                    let t = y0[i] + bias[i % n]
                    return t > 0 ? t : (slope == 0 ? 0 : slope * t)
                }
                #expect(y == expected, "n \(n) slope \(slope)")
            }
        }
    }

    @Test(arguments: copies) func leakyReLUGradientIsExact(_ isa: String) throws {
        let kernels = try #require(vector_kernels_named(isa)).pointee
        for count in Self.lengths {
            for slope: Float in [0, 0.2, 1] {
                var y = values(count, seed: 11, low: -1, high: 1)
                if count > 1 { y[1] = 0 }  // the kink: not > 0
                let dy = values(count, seed: 12, low: -3, high: 3)
                var dx = [Float](repeating: .nan, count: count + 1)
                dx[count] = 42
                kernels.activation_gradient_leaky_relu(&dx, y, dy, count, slope)
                let expected = (0..<count).map { y[$0] > 0 ? dy[$0] : (slope == 0 ? 0 : slope * dy[$0]) }
                #expect(Array(dx.prefix(count)) == expected && dx[count] == 42, "count \(count) slope \(slope)")
            }
        }
    }
}
