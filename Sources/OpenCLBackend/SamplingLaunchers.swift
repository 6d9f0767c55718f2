import Engine

/// Launchers of Kernels/sampling.cl: Philox4x32-10 streams (seed, step, sample), REGISTER_WIDTH
/// blocks of four draws per work-item.
extension OpenCLBackend {
    /// Raw Philox4x32-10 output of `blocks` counters (block, sample, step), for bit-exact tests
    /// against the host implementation.
    public func philoxBits(blocks: Int, seed: UInt64, step: UInt64, sample: UInt32) throws -> [UInt32] {
        let out = try clBuffer(try allocate(bytes: blocks * 16))
        try philox_bits(out: out, blocks: blocks, seed: seed, step: step, sample: sample)
        return try download(out, count: blocks * 4, as: UInt32.self)
    }

    func philox_bits(out: CLBuffer, blocks: Int, seed: UInt64, step: UInt64, sample: UInt32) throws(OpenCLError) {
        try enqueue(.philox_bits, [.buffer(out), try int(blocks, "philox_bits"), .uint(sample)] + Self.counter(seed: seed, step: step),
                    global: [blocks], local: [tiles.local1D])
    }

    /// y = n standard normal draws of the stream (seed, step, sample).
    func random_normal(y: CLBuffer, n: Int, seed: UInt64, step: UInt64, sample: UInt32) throws(OpenCLError) {
        try enqueue(.random_normal, [.buffer(y), try int(n, "randomNormal"), .uint(sample)] + Self.counter(seed: seed, step: step),
                    global: [workItems(n, nil)], local: loopingGroup(items: workItems(n, nil)))
    }

    /// z = μ + exp(½ log σ²)·ε over n elements in rows `width` wide, ε from the stream (seed,
    /// step, sample) at each row's place in the whole batch (`context.shard`).
    func reparameterize(z: CLBuffer, mean: CLBuffer, logVariance: CLBuffer, n: Int, width: Int, seed: UInt64, sample: UInt32,
                        context: RunContext) throws(OpenCLError) {
        try enqueue(.reparameterize, [.buffer(z), .buffer(mean), .buffer(logVariance), try int(n, "reparameterize"), .uint(sample)]
                    + Self.counter(seed: seed, step: context.step) + (try shardArguments(context.shard, width: width)),
                    global: [workItems(n, context.shard)], local: loopingGroup(items: workItems(n, context.shard)))
    }

    /// d log σ² = dz ⊙ ε ⊙ ½ exp(½ log σ²), with ε regenerated from the same stream.
    func reparameterize_gradient(dLogVariance: CLBuffer, logVariance: CLBuffer, dz: CLBuffer, n: Int, width: Int, seed: UInt64,
                                 sample: UInt32, context: RunContext) throws(OpenCLError) {
        try enqueue(.reparameterize_gradient, [.buffer(dLogVariance), .buffer(logVariance), .buffer(dz), try int(n, "reparameterize"),
                                               .uint(sample)] + Self.counter(seed: seed, step: context.step) + (try shardArguments(context.shard, width: width)),
                    global: [workItems(n, context.shard)], local: loopingGroup(items: workItems(n, context.shard)))
    }

    /// One work-item per REGISTER_WIDTH blocks of four draws (FOR_EACH_NORMAL in
    /// Kernels/sampling.cl), or per element when the batch is sharded.
    private func workItems(_ n: Int, _ shard: BatchShard?) -> Int {
        shard == nil ? (n + 4 * tiles.registerWidth - 1) / (4 * tiles.registerWidth) : n
    }

    /// SHARD_PARAMETERS: width, shard_first, shard_rows, shard_global_rows (rows 0: unsharded).
    private func shardArguments(_ shard: BatchShard?, width: Int) throws(OpenCLError) -> [KernelArgument] {
        let s = shard ?? BatchShard(first: 0, rows: 0, globalRows: 0)
        return [try int(width, "reparameterize"), try int(s.first, "reparameterize"), try int(s.rows, "reparameterize"),
                try int(s.globalRows, "reparameterize")]
    }

    /// The counter words (step_lo, step_hi) and key words (seed_lo, seed_hi) the kernels take.
    private static func counter(seed: UInt64, step: UInt64) -> [KernelArgument] {
        [.uint(UInt32(truncatingIfNeeded: step)), .uint(UInt32(truncatingIfNeeded: step >> 32)),
         .uint(UInt32(truncatingIfNeeded: seed)), .uint(UInt32(truncatingIfNeeded: seed >> 32))]
    }
}
