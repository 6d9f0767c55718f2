import Engine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reparameterized sampling: the host twin of `Kernels/sampling.cl`. ε for element i is lane
/// i mod 4 of Philox block i/4 in the stream (seed, step, sample).
extension CPUBackend {
    private func forEachBlock(_ count: Int, _ body: (Int, (Float, Float, Float, Float)) -> Void, seed: UInt64, step: UInt64, sample: UInt32) {
        let blocks = (count + 3) / 4
        parallelFor(blocks, grain: expensiveGrain / 16) { range in
            for block in range {
                body(block, Philox.normals(seed: seed, step: step, sample: sample, block: UInt32(truncatingIfNeeded: block)))
            }
        }
    }

    @inline(__always)
    private func lanes(_ n: (Float, Float, Float, Float), _ block: Int, _ count: Int, _ f: (Int, Float) -> Void) {
        let base = block * 4
        f(base, n.0)
        if base + 1 < count { f(base + 1, n.1) }
        if base + 2 < count { f(base + 2, n.2) }
        if base + 3 < count { f(base + 3, n.3) }
    }

    func randomNormal(_ y: UnsafeMutablePointer<Float>, count: Int, seed: UInt64, step: UInt64) {
        forEachBlock(count, { block, n in lanes(n, block, count) { i, e in y[i] = e } }, seed: seed, step: step, sample: 0)
    }

    func reparameterize(z: UnsafeMutablePointer<Float>, mean: UnsafePointer<Float>, logVariance: UnsafePointer<Float>,
                        count: Int, seed: UInt64, sample: UInt32, step: UInt64) {
        forEachBlock(count, { block, n in
            lanes(n, block, count) { i, e in z[i] = mean[i] + expf(0.5 * logVariance[i]) * e }
        }, seed: seed, step: step, sample: sample)
    }

    func reparameterizeGradient(dLogVariance: UnsafeMutablePointer<Float>, logVariance: UnsafePointer<Float>, dz: UnsafePointer<Float>,
                                count: Int, seed: UInt64, sample: UInt32, step: UInt64) {
        forEachBlock(count, { block, n in
            lanes(n, block, count) { i, e in dLogVariance[i] = dz[i] * e * 0.5 * expf(0.5 * logVariance[i]) }
        }, seed: seed, step: step, sample: sample)
    }
}
