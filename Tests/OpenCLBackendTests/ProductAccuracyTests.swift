import CPUBackend
import Engine
@testable import OpenCLBackend
import Testing
import VAEBench

/// Long products against float64: every product kernel sums at most K_BLOCK (256) products in one
/// float before adding them to its running total (Kernels/common.cl), as OpenBLAS sums blocks of
/// K. The operands are all positive, so a float chain along all of K would round at growing
/// partial sums: on PoCL and rusticl one chain of 2000 gave 4.7–6.0e-7 of the product's rms,
/// blocks of 256 give 0.6–1.1e-7, OpenBLAS 0.5–1.3e-7 (K 1568–6000, 2026-11-25).
@Suite struct ProductAccuracyTests {
    /// (name, op, M, N, K, A transposed, B transposed): each reaches another
    /// kernel of the CPU structure (register tiles NN and TN, the NT panel, the one-element
    /// kernel; K < 2048 is one piece, 6000 is split in pieces); the GPU structure takes them all
    /// in `gemm_tiled`.
    static let cases: [(String, Op, Int, Int, Int, Bool, Bool)] = [
        ("NN", .matmul(transposeA: false, transposeB: false), 64, 48, 2000, false, false),
        ("TN", .matmul(transposeA: true, transposeB: false), 48, 40, 2000, true, false),
        ("NT panel", .linear(activation: .identity), 64, 32, 1568, false, true),
        ("generic", .matmul(transposeA: false, transposeB: false), 3, 5, 2000, false, false),
        ("NN split", .matmul(transposeA: false, transposeB: false), 16, 32, 6000, false, false),
    ]

    @Test func longProductsStayCloseToFloat64() throws {
        let backends: [(String, any Backend)] = [("", CPUBackend())] + (try Parity.everyDevice()).map { ("", $0.gpu) }
            + (try Parity.everyDevice(tiles: .gpu)).map { ("GPU structure, ", $0.gpu) }
        for (name, op, m, n, k, ta, tb) in Self.cases {
            let a = Parity.values(m * k, stream: 21, unit: true), b = Parity.values(k * n, stream: 22, unit: true)
            // op(A)[i, p] and op(B)[p, j] in float64; C = op(A)·op(B).
            var exact = [Double](repeating: 0, count: m * n)
            for i in 0..<m {
                for p in 0..<k {
                    let x = Double(ta ? a[p * m + i] : a[i * k + p])
                    for j in 0..<n { exact[i * n + j] += x * Double(tb ? b[j * k + p] : b[p * n + j]) }
                }
            }
            let rms = (exact.reduce(0) { $0 + $1 * $1 } / Double(m * n)).squareRoot()
            var inputs = [(TensorSpec(ta ? Shape(k, m) : Shape(m, k)), a), (TensorSpec(tb ? Shape(n, k) : Shape(k, n)), b)]
            if case .linear = op { inputs.append((TensorSpec(Shape(n)), [Float](repeating: 0, count: n))) }
            for (structure, backend) in backends {
                let c = try KernelCheck.outputs(on: backend, op, inputs, RunContext())[0]
                let error = (zip(c, exact).reduce(0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) } / Double(m * n)).squareRoot() / rms
                #expect(error <= 2.5e-7, "\(name) \(m)×\(n)×\(k) on \(structure)\(backend.deviceDescription): rms error \(error) of the product's rms")
            }
        }
    }
}
