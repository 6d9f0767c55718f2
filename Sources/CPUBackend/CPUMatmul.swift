import CBLAS
import Engine

extension CPUBackend {
    /// C[M, N] = op(A)·op(B) with row-major storage (A is K×M when transposed, B is N×K).
    func matmul(c: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else { c.update(repeating: 0, count: m * n); return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n), 0, c, Int32(n))
    }

    /// y[M, N] = act(x[M, K]·W[N, K]ᵀ + b[N]): the GEMM, then bias and activation in one pass.
    func linear(_ act: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                b: UnsafePointer<Float>, m: Int, n: Int, k: Int) {
        matmul(c: y, a: x, b: w, m: m, n: n, k: k, transposeA: false, transposeB: true)
        withActivation(act) { f in
            parallelFor(m, grain: max(1, parallelGrain / max(n, 1))) { rows in
                for r in rows {
                    let row = y + r * n
                    for j in 0..<n { row[j] = f(row[j] + b[j]) }
                }
            }
        }
    }
}
