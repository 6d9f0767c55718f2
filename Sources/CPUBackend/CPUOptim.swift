import CPUVector
import Engine

/// Optimizer updates in place: the host twins of `Kernels/optim.cl`.
extension CPUBackend {
    /// Adam with bias correction at t = step + 1.
    func adam(_ h: AdamHyperparameters, parameter p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
              m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, step: UInt64) {
        let (c1, c2) = h.biasCorrections(step: step)
        let (b1, b2, lr, eps) = (h.beta1, h.beta2, h.learningRate, h.epsilon)
        // The widest vectors the CPU has (the same formula as the OpenCL kernel).
        parallelFor(count, grain: expensiveGrain) { r in
            let i = r.lowerBound
            vector_adam(p + i, g + i, m + i, v + i, r.count, b1, b2, lr, eps, c1, c2)
        }
    }

    /// `adam` with the gradient the column sums of rows (shape `rowsShape`, [M, N]), summed
    /// first as `reduce(.sum, .rows)` sums them: a bias step.
    func adamSummingRows(_ h: AdamHyperparameters, parameter p: CPUBuffer, rows: CPUBuffer, m: CPUBuffer, v: CPUBuffer,
                         rowsShape: Shape, step: UInt64) {
        let n = rowsShape.columns
        var sums = [Float](repeating: 0, count: n)
        sums.withUnsafeMutableBufferPointer { g in
            reduce(.sum, .rows, y: g.baseAddress!, x: rows.floats, shape: rowsShape)
            adam(h, parameter: p.floats, gradient: g.baseAddress!, m: m.floats, v: v.floats, count: n, step: step)
        }
    }

    func sgd(learningRate: Float, parameter p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, count: Int) {
        parallelFor(count) { r in for i in r { p[i] -= learningRate * g[i] } }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
