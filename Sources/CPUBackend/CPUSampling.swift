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

    /// Runs `f(i, ε_i)` for each of `count` elements of rows `width` wide. With a shard, element
    /// (ρ, j) draws the noise of element (globalRow(ρ), j) of the whole batch: lane g mod 4 of
    /// block g/4, g = globalRow(ρ)·width + j (the twin of FOR_EACH_NORMAL's sharded branch).
    private func forEachNormal(_ count: Int, width: Int, shard: BatchShard?, seed: UInt64, step: UInt64, sample: UInt32,
                               _ f: (Int, Float) -> Void) {
        guard let shard, width > 0 else {
            forEachBlock(count, { block, n in lanes(n, block, count, f) }, seed: seed, step: step, sample: sample)
            return
        }
        parallelFor(count, grain: expensiveGrain / 4) { range in
            for i in range {
                let g = shard.globalRow(i / width) * width + i % width
                let n = Philox.normals(seed: seed, step: step, sample: sample, block: UInt32(truncatingIfNeeded: g / 4))
                f(i, g % 4 == 0 ? n.0 : g % 4 == 1 ? n.1 : g % 4 == 2 ? n.2 : n.3)
            }
        }
    }

    func reparameterize(z: UnsafeMutablePointer<Float>, mean: UnsafePointer<Float>, logVariance: UnsafePointer<Float>,
                        count: Int, width: Int, seed: UInt64, sample: UInt32, context: RunContext) {
        forEachNormal(count, width: width, shard: context.shard, seed: seed, step: context.step, sample: sample) { i, e in
            z[i] = mean[i] + expf(0.5 * logVariance[i]) * e
        }
    }

    func reparameterizeGradient(dLogVariance: UnsafeMutablePointer<Float>, logVariance: UnsafePointer<Float>, dz: UnsafePointer<Float>,
                                count: Int, width: Int, seed: UInt64, sample: UInt32, context: RunContext) {
        forEachNormal(count, width: width, shard: context.shard, seed: seed, step: context.step, sample: sample) { i, e in
            dLogVariance[i] = dz[i] * e * 0.5 * expf(0.5 * logVariance[i])
        }
    }
}
