import Engine

/// Optimizer updates in place: the host twins of `Kernels/optim.cl`.
extension CPUBackend {
    /// Adam with bias correction at t = step + 1.
    func adam(_ h: AdamHyperparameters, parameter p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
              m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, step: UInt64) {
        let (c1, c2) = h.biasCorrections(step: step)
        let (b1, b2, lr, eps) = (h.beta1, h.beta2, h.learningRate, h.epsilon)
        // Eight lanes at a time (the same float arithmetic as one at a time, so results match
        // the scalar tail and the OpenCL kernel's formula).
        typealias V = SIMD8<Float>
        parallelFor(count, grain: expensiveGrain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
                let mi = b1 * UnsafeRawPointer(m + i).loadUnaligned(as: V.self) + (1 - b1) * gi
                let vi = b2 * UnsafeRawPointer(v + i).loadUnaligned(as: V.self) + (1 - b2) * gi * gi
                let pi = UnsafeRawPointer(p + i).loadUnaligned(as: V.self) - lr * (mi * c1) / ((vi * c2).squareRoot() + eps)
                UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
                UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
                UnsafeMutableRawPointer(p + i).storeBytes(of: pi, as: V.self)
                i += 8
            }
            while i < r.upperBound {
                let gi = g[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                p[i] -= lr * (m[i] * c1) / ((v[i] * c2).squareRoot() + eps)
                i += 1
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
