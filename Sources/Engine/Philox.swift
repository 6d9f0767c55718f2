/// Philox4x32-10, the counter-based generator of Salmon et al. (Random123): 128-bit counter,
/// 64-bit key, 10 rounds. Stateless, so any element's random number can be computed (or
/// recomputed in a backward pass) from its coordinates. `Kernels/sampling.cl` is its twin.
public enum Philox {
    public static func block(counter c: (UInt32, UInt32, UInt32, UInt32), key k: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = c
        var (k0, k1) = k
        for round in 0..<10 {
            if round > 0 {
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
        }
        return (c0, c1, c2, c3)
    }

    /// A uniform in the open interval (0, 1) from the top 24 bits: never 0, so log is finite.
    @inline(__always)
    public static func uniform(_ bits: UInt32) -> Float {
        (Float(bits >> 8) + 0.5) * (1.0 / 16_777_216.0)
    }

    /// Four standard normals (two Box–Muller pairs) for block `block` of the stream
    /// (seed, step, sample). Element i of a tensor uses block i/4, lane i%4.
    @inline(__always)
    public static func normals(seed: UInt64, step: UInt64, sample: UInt32, block: UInt32) -> (Float, Float, Float, Float) {
        let r = Philox.block(
            counter: (block, sample, UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32)),
            key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
        let (a0, a1) = boxMuller(uniform(r.0), uniform(r.1))
        let (b0, b1) = boxMuller(uniform(r.2), uniform(r.3))
        return (a0, a1, b0, b1)
    }

    @inline(__always)
    static func boxMuller(_ u1: Float, _ u2: Float) -> (Float, Float) {
        let radius = (-2 * logf(u1)).squareRoot()
        let angle = 2 * Float.pi * u2
        return (radius * cosf(angle), radius * sinf(angle))
    }

    /// Fills `count` standard normals of the stream into `out` (the host twin of the kernels).
    public static func fillNormals(_ out: UnsafeMutablePointer<Float>, count: Int, seed: UInt64, step: UInt64, sample: UInt32, startBlock: Int = 0, endBlock: Int? = nil) {
        let blocks = endBlock ?? (count + 3) / 4
        for b in startBlock..<blocks {
            let n = normals(seed: seed, step: step, sample: sample, block: UInt32(truncatingIfNeeded: b))
            let base = b * 4
            out[base] = n.0
            if base + 1 < count { out[base + 1] = n.1 }
            if base + 2 < count { out[base + 2] = n.2 }
            if base + 3 < count { out[base + 3] = n.3 }
        }
    }

    /// `count` standard normals of the stream (seed, step, sample), element i from block i/4.
    public static func normals(count: Int, seed: UInt64, step: UInt64 = 0, sample: UInt32 = 0) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { fillNormals(base, count: count, seed: seed, step: step, sample: sample) }
        }
        return values
    }

    /// `count` uniforms in (−bound, bound) for parameter initialization.
    public static func uniforms(count: Int, bound: Float, seed: UInt64, stream: UInt32) -> [Float] {
        (0..<count).map { i in
            let r = Philox.block(counter: (UInt32(truncatingIfNeeded: i), stream, 0x5EED_1417, 0), key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
            return (2 * uniform(r.0) - 1) * bound
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
