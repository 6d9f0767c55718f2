import CBLAS
import CPUVector
import Engine

extension CPUBackend {
    /// C[M, N] = op(A)·op(B) with row-major storage (A is K×M when transposed, B is N×K).
    ///
    /// OpenBLAS runs single-threaded here; a product large enough to split is cut along its
    /// longer side into one block per thread, each block one cblas_sgemm on a worker of
    /// `parallelFor`. OpenBLAS's own threads spin (sched_yield) for a while after each call and
    /// took the cores from the element-wise loops between GEMMs (measured: 25% slower steps).
    func matmul(c: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else { c.update(repeating: 0, count: m * n); return }
        let (lda, ldb) = (transposeA ? m : k, transposeB ? k : n)
        func block(rows: Range<Int>, columns: Range<Int>) {
            // Row r of op(A) and column j of op(B) start at these offsets.
            let aStart = rows.lowerBound * (transposeA ? 1 : k), bStart = columns.lowerBound * (transposeB ? k : 1)
            cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(columns.count), Int32(k), 1, a + aStart, Int32(lda), b + bStart, Int32(ldb),
                        0, c + rows.lowerBound * n + columns.lowerBound, Int32(n))
        }
        // OpenBLAS's thread count is global: set for each call, as backends of both kinds may live in one process.
        guard splitsProducts else {
            openblas_set_num_threads(Int32(threads))
            return block(rows: 0..<m, columns: 0..<n)
        }
        openblas_set_num_threads(1)
        let grain = max(1, gemmGrain / max(1, k))  // rows (or columns) of C per block
        if n >= 2 * m {
            parallelFor(n, grain: max(grain / m, 16)) { columns in block(rows: 0..<m, columns: columns) }
        } else {
            parallelFor(m, grain: max(grain / n, 16)) { rows in block(rows: rows, columns: 0..<n) }
        }
    }

    /// y[M, N] = act(x[M, K]·W[N, K]ᵀ + b[N]): the GEMM, then bias and activation in one pass.
    func linear(_ act: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                b: UnsafePointer<Float>, m: Int, n: Int, k: Int) {
        matmul(c: y, a: x, b: w, m: m, n: n, k: k, transposeA: false, transposeB: true)
        let grain = max(1, parallelGrain / max(n, 1))
        if let slope = leakySlope(act) {  // vectorized for the running CPU
            return parallelFor(m, grain: grain) { rows in
                vector_bias_leaky_relu(y + rows.lowerBound * n, b, rows.count, n, slope)
            }
        }
        withActivation(act) { f in
            parallelFor(m, grain: grain) { rows in
                for r in rows {
                    let row = y + r * n
                    for j in 0..<n { row[j] = f(row[j] + b[j]) }
                }
            }
        }
    }
}
