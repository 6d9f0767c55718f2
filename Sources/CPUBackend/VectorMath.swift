/// exp and log on eight lanes at once, in plain SIMD arithmetic (Cephes' polynomials, the same
/// as Kernels/common.cl uses on CPU devices): libm's expf and log1pf take one element at a
/// time, and they dominated the Bernoulli loss. Accurate to about 1 ulp on the ranges used.
enum VectorMath {
    typealias V = SIMD8<Float>
    typealias I = SIMD8<Int32>

    /// eˣ (x is clamped to [−87.3, 88.7], where eˣ stays a normal float).
    @inline(__always)
    static func exp(_ x: V) -> V {
        let xc = x.clamped(lowerBound: V(repeating: -87.336_54), upperBound: V(repeating: 88.722_84))
        // n = round(x·log₂e): adding 1.5·2²³ leaves n in the low mantissa bits.
        let shifted = xc * 1.442_695_04 + 12_582_912.0
        let n = shifted - 12_582_912.0
        let k = unsafeBitCast(shifted, to: I.self) &- 0x4B40_0000
        let r = xc - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = V(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * (r * r) + r + 1
        // 2ⁿ as two factors, so n from −126 to 128 stays within normal numbers.
        let k1 = k &>> 1, k2 = k &- k1
        return y * unsafeBitCast((k1 &+ 127) &<< 23, to: V.self) * unsafeBitCast((k2 &+ 127) &<< 23, to: V.self)
    }

    /// log x for normal x > 0.
    @inline(__always)
    static func log(_ x: V) -> V {
        let bits = unsafeBitCast(x, to: I.self)
        var e = ((bits &>> 23) & 0xFF) &- 126
        var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: V.self)  // mantissa in [0.5, 1)
        let low = m .< 0.707_106_781_186_547_524
        e.replace(with: e &- 1, where: low)
        m = (m - 1).replacing(with: m + m - 1, where: low)
        let z = m * m
        var p = V(repeating: 7.037_683_629_2e-2)
        p = p * m - 1.151_461_031_0e-1
        p = p * m + 1.167_699_874_0e-1
        p = p * m - 1.242_014_084_6e-1
        p = p * m + 1.424_932_278_7e-1
        p = p * m - 1.666_805_766_5e-1
        p = p * m + 2.000_071_476_5e-1
        p = p * m - 2.499_999_399_3e-1
        p = p * m + 3.333_333_117_4e-1
        let fe = V(e)
        return m + (p * m * z - 2.121_944_40e-4 * fe - 0.5 * z) + 0.693_359_375 * fe
    }

    /// −log p(x | logits) of a Bernoulli, max(l, 0) + log(1 + e^(−|l|)) − x·l, on eight pixels.
    @inline(__always)
    static func bernoulliLoss(x: V, logits l: V) -> V {
        let e = exp(l.replacing(with: -l, where: l .> 0))  // e^(−|l|)
        // log1p through log(1 + e), with the series where 1 + e would round to 1.
        let softplus = log(1 + e).replacing(with: e * (1 - 0.5 * e), where: e .< 1e-4)
        return l.replacing(with: 0, where: l .< 0) + softplus - x * l
    }

    /// σ(l) − x, the Bernoulli loss's derivative in the logit, on eight pixels.
    @inline(__always)
    static func bernoulliGradient(x: V, logits l: V) -> V {
        1 / (1 + exp(-l)) - x
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
}
