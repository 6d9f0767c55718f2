import Engine

/// Optimizer updates in place: the host twins of `Kernels/optim.cl`.
extension CPUBackend {
    /// Adam with bias correction at t = step + 1.
    func adam(_ h: AdamHyperparameters, parameter p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
              m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, step: UInt64) {
        let (c1, c2) = h.biasCorrections(step: step)
        let (b1, b2, lr, eps) = (h.beta1, h.beta2, h.learningRate, h.epsilon)
        parallelFor(count) { r in
            for i in r {
                let gi = g[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                p[i] -= lr * (m[i] * c1) / ((v[i] * c2).squareRoot() + eps)
            }
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
