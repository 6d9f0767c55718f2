import CPUVector
import Engine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fused VAE loss: the host twin of `Kernels/loss.cl`. Per example b:
/// reconstruction_b = −log p(x_b | z_b) summed over the D pixels, KL_b in closed form
/// −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j) or Monte-Carlo Σ_j (−½ log σ²_j − ½ ε_j² + ½ z_j²) with
/// ε = (z − μ)/σ, and the op's scalar is (1/B) Σ_b (reconstruction_b + β·KL_b), in nats per example.
extension CPUBackend {
    static let halfLogTwoPi: Float = 0.918_938_533_204_672_7
    /// Floor of the calibrated Gaussian's variance, so a perfect fit keeps a finite loss.
    static let minimumCalibratedVariance: Float = 1e-6

    /// Pointers to the loss op's inputs.
    struct LossInputs {
        let x, decoded, mean, logVariance: UnsafePointer<Float>
        let z: UnsafePointer<Float>?
        /// σ²_j per feature, given (`.gaussianPerFeature`).
        let variances: UnsafePointer<Float>?
        let batch, dataSize, latentSize: Int
    }

    /// −log p(x | decoded) of one pixel, less `rowConstant` (for the calibrated Gaussian and the
    /// per-feature variances: the squared error, scaled once σ² is known).
    @inline(__always)
    static func pixelLoss(_ likelihood: Likelihood, x: Float, decoded l: Float) -> Float {
        switch likelihood {
        case .bernoulli:
            return max(l, 0) + log1pf(expf(-abs(l))) - x * l
        case .gaussian(let sigma):
            let d = x - l
            return d * d / (2 * sigma * sigma)
        case .calibratedGaussian, .calibratedGaussianPerFeature, .gaussianPerFeature:
            return (x - l) * (x - l)
        }
    }

    /// The part of a row's −log p(x|z) that does not depend on the pixels: D·(log σ + ½ log 2π)
    /// for the fixed Gaussian (added once per row, not once per pixel).
    static func rowConstant(_ likelihood: Likelihood, pixels: Int) -> Float {
        if case .gaussian(let sigma) = likelihood { return Float(pixels) * (logf(sigma) + halfLogTwoPi) }
        return 0
    }

    /// KL of example b's latent row.
    @inline(__always)
    static func kl(_ estimator: KLEstimator, _ p: LossInputs, row b: Int) -> Float {
        var kl: Float = 0
        for j in b * p.latentSize..<(b + 1) * p.latentSize {
            let lv = p.logVariance[j], mu = p.mean[j]
            if estimator == .monteCarlo, let z = p.z {
                let d = z[j] - mu
                kl += -0.5 * lv - 0.5 * d * d * expf(-lv) + 0.5 * z[j] * z[j]
            } else {
                kl += -0.5 * (1 + lv - mu * mu - expf(lv))
            }
        }
        return kl
    }

    /// σ² of the calibrated Gaussian: the batch's mean squared error, floored.
    func calibratedVariance(_ p: LossInputs) -> Float {
        var total: Double = 0
        for i in 0..<p.batch * p.dataSize {
            let d = p.x[i] - p.decoded[i]
            total += Double(d * d)
        }
        return max(Float(total / Double(p.batch * p.dataSize)), Self.minimumCalibratedVariance)
    }

    /// σ²_j per feature: given (`.gaussianPerFeature`), or the batch's mean squared error of
    /// each feature, floored (`.calibratedGaussianPerFeature`); nil for the other likelihoods.
    func featureVariances(_ likelihood: Likelihood, _ p: LossInputs) -> [Float]? {
        if likelihood == .gaussianPerFeature, let given = p.variances { return Array(UnsafeBufferPointer(start: given, count: p.dataSize)) }
        guard likelihood == .calibratedGaussianPerFeature else { return nil }
        var totals = [Double](repeating: 0, count: p.dataSize)
        for b in 0..<p.batch {
            for j in 0..<p.dataSize {
                let d = p.x[b * p.dataSize + j] - p.decoded[b * p.dataSize + j]
                totals[j] += Double(d * d)
            }
        }
        return totals.map { max(Float($0 / Double(p.batch)), Self.minimumCalibratedVariance) }
    }

    func vaeLoss(_ o: VAEObjective, terms: UnsafeMutablePointer<Float>, total: UnsafeMutablePointer<Float>, _ p: LossInputs) {
        let variances = featureVariances(o.likelihood, p)
        let halfLogs = variances?.map { 0.5 * logf(2 * Float.pi * $0) }  // ½ log 2πσ²_j, once per feature
        parallelFor(p.batch, grain: max(1, expensiveGrain / max(p.dataSize, 1))) { rows in
            for b in rows {
                var reconstruction: Float = 0
                var start = b * p.dataSize
                let end = start + p.dataSize
                if o.likelihood == .bernoulli {
                    // The widest vectors the CPU has; the lanes are added in a fixed order.
                    vector_vae_loss_rows_bernoulli(&reconstruction, p.x + start, p.decoded + start, 1, p.dataSize)
                    start = end
                }
                if let variances, let halfLogs {
                    for j in 0..<p.dataSize {
                        let d = p.x[start + j] - p.decoded[start + j]
                        reconstruction += d * d / (2 * variances[j]) + halfLogs[j]
                    }
                    start = end
                }
                for i in start..<end {
                    reconstruction += Self.pixelLoss(o.likelihood, x: p.x[i], decoded: p.decoded[i])
                }
                terms[2 * b] = reconstruction + Self.rowConstant(o.likelihood, pixels: p.dataSize)
                terms[2 * b + 1] = Self.kl(o.kl, p, row: b)
            }
        }
        if o.likelihood == .calibratedGaussian {
            let variance = calibratedVariance(p)
            let constant = 0.5 * Float(p.dataSize) * logf(2 * Float.pi * variance)
            for b in 0..<p.batch { terms[2 * b] = terms[2 * b] / (2 * variance) + constant }
        }
        var sum: Float = 0
        for b in 0..<p.batch { sum += terms[2 * b] + o.beta * terms[2 * b + 1] }
        total[0] = sum / Float(p.batch)
    }

    /// Outputs: d decoded, dμ, d log σ², and dz for the Monte-Carlo KL.
    func vaeLossGradient(_ o: VAEObjective, _ out: [UnsafeMutablePointer<Float>], _ p: LossInputs, dLoss: Float) {
        let scale = dLoss / Float(p.batch)
        let variance = o.likelihood == .calibratedGaussian ? calibratedVariance(p) : 1
        let variances = featureVariances(o.likelihood, p) ?? []
        let dDecoded = out[0]
        parallelFor(p.batch * p.dataSize, grain: expensiveGrain) { r in
            if o.likelihood == .bernoulli {
                let start = r.lowerBound
                return vector_vae_loss_gradient_bernoulli(dDecoded + start, p.x + start, p.decoded + start, r.count, scale)
            }
            for i in r {
                let (x, l) = (p.x[i], p.decoded[i])
                let g: Float = switch o.likelihood {
                case .bernoulli: 1 / (1 + expf(-l)) - x
                case .gaussian(let sigma): (l - x) / (sigma * sigma)
                case .calibratedGaussian: (l - x) / variance
                case .calibratedGaussianPerFeature, .gaussianPerFeature: (l - x) / variances[i % p.dataSize]
                }
                dDecoded[i] = scale * g
            }
        }
        let k = scale * o.beta
        for j in 0..<p.batch * p.latentSize {
            let (mu, lv) = (p.mean[j], p.logVariance[j])
            if o.kl == .monteCarlo, let z = p.z {
                let d = z[j] - mu, inverseVariance = expf(-lv)
                out[1][j] = k * d * inverseVariance
                out[2][j] = k * (-0.5 + 0.5 * d * d * inverseVariance)
                out[3][j] = k * (z[j] - d * inverseVariance)
            } else {
                out[1][j] = k * mu
                out[2][j] = k * 0.5 * (expf(lv) - 1)
            }
        }
    }
}
