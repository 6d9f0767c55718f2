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

    func sgd(learningRate: Float, parameter p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, count: Int) {
        parallelFor(count) { r in for i in r { p[i] -= learningRate * g[i] } }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
