import Engine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fused VAE loss: the host twin of `Kernels/loss.cl`. Per example b:
/// reconstruction_b = −log p(x_b | z_b) summed over the D pixels, KL_b = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j),
/// and the op's scalar is (1/B) Σ_b (reconstruction_b + β·KL_b), in nats per example.
extension CPUBackend {
    static let halfLogTwoPi: Float = 0.918_938_533_204_672_7

    /// −log p(x | decoded) of one pixel.
    @inline(__always)
    static func pixelNegativeLogLikelihood(_ likelihood: Likelihood, x: Float, decoded l: Float) -> Float {
        switch likelihood {
        case .bernoulli:
            return max(l, 0) + log1pf(expf(-abs(l))) - x * l
        case .gaussian(let sigma):
            let d = x - l
            return d * d / (2 * sigma * sigma) + logf(sigma) + halfLogTwoPi
        }
    }

    /// ∂(−log p)/∂decoded of one pixel.
    @inline(__always)
    static func pixelGradient(_ likelihood: Likelihood, x: Float, decoded l: Float) -> Float {
        switch likelihood {
        case .bernoulli: 1 / (1 + expf(-l)) - x
        case .gaussian(let sigma): (l - x) / (sigma * sigma)
        }
    }

    func vaeLoss(_ likelihood: Likelihood, beta: Float, terms: UnsafeMutablePointer<Float>, total: UnsafeMutablePointer<Float>,
                 x: UnsafePointer<Float>, decoded: UnsafePointer<Float>, mean: UnsafePointer<Float>, logVariance: UnsafePointer<Float>,
                 batch: Int, dataSize: Int, latentSize: Int) {
        parallelFor(batch, grain: max(1, parallelGrain / max(dataSize, 1))) { rows in
            for b in rows {
                var reconstruction: Float = 0
                for i in b * dataSize..<(b + 1) * dataSize {
                    reconstruction += Self.pixelNegativeLogLikelihood(likelihood, x: x[i], decoded: decoded[i])
                }
                var kl: Float = 0
                for j in b * latentSize..<(b + 1) * latentSize {
                    let lv = logVariance[j], mu = mean[j]
                    kl += -0.5 * (1 + lv - mu * mu - expf(lv))
                }
                terms[2 * b] = reconstruction
                terms[2 * b + 1] = kl
            }
        }
        var sum: Float = 0
        for b in 0..<batch { sum += terms[2 * b] + beta * terms[2 * b + 1] }
        total[0] = sum / Float(batch)
    }

    func vaeLossGradient(_ likelihood: Likelihood, beta: Float, dDecoded: UnsafeMutablePointer<Float>, dMean: UnsafeMutablePointer<Float>,
                         dLogVariance: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, decoded: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, logVariance: UnsafePointer<Float>, dLoss: Float,
                         batch: Int, dataSize: Int, latentSize: Int) {
        let scale = dLoss / Float(batch)
        parallelFor(batch * dataSize) { r in
            for i in r { dDecoded[i] = scale * Self.pixelGradient(likelihood, x: x[i], decoded: decoded[i]) }
        }
        let klScale = scale * beta
        for j in 0..<batch * latentSize {
            dMean[j] = klScale * mean[j]
            dLogVariance[j] = klScale * 0.5 * (expf(logVariance[j]) - 1)
        }
    }
}
