// Reparameterized sampling with Philox4x32-10 + Box–Muller: the twin of Engine/Philox.swift and
// CPUBackend/CPUSampling.swift. Element i uses lane i % 4 of Philox block i / 4 in the stream
// (seed, step, sample): counter (block, sample, step_lo, step_hi), key (seed_lo, seed_hi).
// One work-item per block of four elements, so the backward pass regenerates ε exactly.

__attribute__((always_inline)) inline uint4 philox4x32_10(uint4 c, uint2 k) {
    for (int round = 0; round < 10; ++round) {
        if (round > 0) { k.x += 0x9E3779B9u; k.y += 0xBB67AE85u; }
        // The 64-bit products give both halves at once (PoCL's `mul_hi` is an emulation in
        // 16-bit pieces: 70% of the reparameterize kernel's time).
        ulong p0 = (ulong)0xD2511F53u * c.x, p1 = (ulong)0xCD9E8D57u * c.z;
        c = (uint4)((uint)(p1 >> 32) ^ c.y ^ k.x, (uint)p1, (uint)(p0 >> 32) ^ c.w ^ k.y, (uint)p0);
    }
    return c;
}

inline float uniform_open(uint bits) { return ((float)(bits >> 8) + 0.5f) * (1.0f / 16777216.0f); }

__attribute__((always_inline)) inline float4 normals4(uint block, uint sample, uint step_lo, uint step_hi, uint seed_lo, uint seed_hi) {
    uint4 r = philox4x32_10((uint4)(block, sample, step_lo, step_hi), (uint2)(seed_lo, seed_hi));
    float r0 = sqrt(-2.0f * vlog(uniform_open(r.x))), a0 = 6.2831853071795864769f * uniform_open(r.y);
    float r1 = sqrt(-2.0f * vlog(uniform_open(r.z))), a1 = 6.2831853071795864769f * uniform_open(r.w);
    float2 sc0 = vsincos(a0), sc1 = vsincos(a1);  // (sin, cos)
    return (float4)(r0 * sc0.y, r0 * sc0.x, r1 * sc1.y, r1 * sc1.x);
}

// Raw Philox output, for bit-exact tests against the host implementation.
__kernel void philox_bits(__global uint* out, int blocks, uint sample, uint step_lo, uint step_hi, uint seed_lo, uint seed_hi) {
    int b = get_global_id(0);
    if (b >= blocks) return;
    vstore4(philox4x32_10((uint4)((uint)b, sample, step_lo, step_hi), (uint2)(seed_lo, seed_hi)), b, out);
}

// Runs BODY for each element i of this work-item, with its normal draw in eps: the one place
// that maps work-items to Philox blocks and lanes. Unsharded (shard_rows == 0), a work-item
// takes the four elements of one block. Sharded (data parallelism), a work-item takes one
// element (row, col) of rows `width` wide and draws lane g % 4 of block g / 4, where
// g = global_row · width + col and global_row = (row / shard_rows) · shard_global_rows +
// shard_first + row % shard_rows (BatchShard.globalRow), so each row gets the noise of its
// place in the whole batch. The draws are made before any branch and the four lanes are
// spelled out: a loop over a private array that read the counter arguments inside its control
// flow made Mesa's rusticl warn "Treating load_kernel_arg in control flow as uniform, results
// may be incorrect".
#define SHARD_PARAMETERS int width, int shard_first, int shard_rows, int shard_global_rows
#define FOR_EACH_NORMAL(n, BODY) { \
    int id = get_global_id(0), sharded = shard_rows > 0, per = max(shard_rows, 1), row = id / max(width, 1); \
    uint g = (uint)(((row / per) * shard_global_rows + shard_first + row % per) * width + (id - row * width)); \
    float4 e = normals4(sharded ? g >> 2 : (uint)id, sample, step_lo, step_hi, seed_lo, seed_hi); \
    if (sharded) { \
        float lanes[4] = {e.x, e.y, e.z, e.w}; \
        if (id < (n)) { int i = id; float eps = lanes[g & 3u]; BODY; } \
    } else { \
        int base = id * 4, left = (n) - base; \
        if (left > 0) { int i = base; float eps = e.x; BODY; } \
        if (left > 1) { int i = base + 1; float eps = e.y; BODY; } \
        if (left > 2) { int i = base + 2; float eps = e.z; BODY; } \
        if (left > 3) { int i = base + 3; float eps = e.w; BODY; } \
    } \
}

__kernel void random_normal(__global float* y, int n, uint sample, uint step_lo, uint step_hi, uint seed_lo, uint seed_hi) {
    int width = 1, shard_first = 0, shard_rows = 0, shard_global_rows = 0;  // never sharded
    FOR_EACH_NORMAL(n, y[i] = eps)
}

// z = μ + exp(½ log σ²) ε.
__kernel void reparameterize(__global float* z, __global const float* mean, __global const float* log_variance,
                             int n, uint sample, uint step_lo, uint step_hi, uint seed_lo, uint seed_hi, SHARD_PARAMETERS) {
    FOR_EACH_NORMAL(n, z[i] = mean[i] + vexp(0.5f * log_variance[i]) * eps)
}

// d log σ² = dz ⊙ ε ⊙ ½ exp(½ log σ²), with ε regenerated from the counter.
__kernel void reparameterize_gradient(__global float* d_log_variance, __global const float* log_variance,
                                      __global const float* dz, int n, uint sample, uint step_lo, uint step_hi,
                                      uint seed_lo, uint seed_hi, SHARD_PARAMETERS) {
    FOR_EACH_NORMAL(n, d_log_variance[i] = dz[i] * eps * 0.5f * vexp(0.5f * log_variance[i]))
}
