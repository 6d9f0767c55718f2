// Reparameterized sampling with Philox4x32-10 + Box–Muller: the twin of Engine/Philox.swift and
// CPUBackend/CPUSampling.swift. Element i uses lane i % 4 of Philox block i / 4 in the stream
// (seed, step, sample): counter (block, sample, step_lo, step_hi), key (seed_lo, seed_hi).
// The backward pass regenerates ε exactly from the same counters.

// Philox4x32-10 on counter words (c0, c1, c2, c3) and key (k0, k1): for one counter (U = uint)
// and for REGISTER_WIDTH counters in vector lanes (U = uintR). The 64-bit products give both
// halves at once (PoCL's `mul_hi` is an emulation in 16-bit pieces: 70% of the reparameterize
// kernel's time).
typedef struct { uint x, y, z, w; } philox_words;
typedef struct { uintR x, y, z, w; } philox_words_r;
#define DEFINE_PHILOX(NAME, S, U, UL) \
__attribute__((always_inline)) inline S NAME(U c0, U c1, U c2, U c3, uint k0, uint k1) { \
    for (int round = 0; round < 10; ++round) { \
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; } \
        UL p0 = convert_##UL(c0) * (UL)0xD2511F53u, p1 = convert_##UL(c2) * (UL)0xCD9E8D57u; \
        U n0 = convert_##U(p1 >> 32) ^ c1 ^ k0, n2 = convert_##U(p0 >> 32) ^ c3 ^ k1; \
        c1 = convert_##U(p1); \
        c3 = convert_##U(p0); \
        c0 = n0; \
        c2 = n2; \
    } \
    return (S){c0, c1, c2, c3}; \
}
DEFINE_PHILOX(philox4x32_10, philox_words, uint, ulong)
DEFINE_PHILOX(philox4x32_10_r, philox_words_r, uintR, ulongR)

// The four normal draws of Philox block(s) `block` (counter (block, sample, step_lo, step_hi),
// key (seed_lo, seed_hi)): uniforms in (0, 1) from the top 24 bits, then Box–Muller on lanes
// (x, y) and (z, w); REGISTER_WIDTH blocks in vector lanes (T = floatR, U = uintR).
#define DEFINE_NORMALS(NAME, PHILOX, S, T, U, LOG, SINCOS) \
__attribute__((always_inline)) inline void NAME(U block, uint sample, uint step_lo, uint step_hi, uint seed_lo, uint seed_hi, \
                                                T* e0, T* e1, T* e2, T* e3) { \
    U s = sample, lo = step_lo, hi = step_hi; \
    S w = PHILOX(block, s, lo, hi, seed_lo, seed_hi); \
    T u0 = (convert_##T(w.x >> 8) + 0.5f) * (1.0f / 16777216.0f), u1 = (convert_##T(w.y >> 8) + 0.5f) * (1.0f / 16777216.0f); \
    T u2 = (convert_##T(w.z >> 8) + 0.5f) * (1.0f / 16777216.0f), u3 = (convert_##T(w.w >> 8) + 0.5f) * (1.0f / 16777216.0f); \
    T r0 = sqrt(-2.0f * LOG(u0)), r1 = sqrt(-2.0f * LOG(u2)), sin0, cos0, sin1, cos1; \
    SINCOS(6.2831853071795864769f * u1, &sin0, &cos0); \
    SINCOS(6.2831853071795864769f * u3, &sin1, &cos1); \
    *e0 = r0 * cos0; \
    *e1 = r0 * sin0; \
    *e2 = r1 * cos1; \
    *e3 = r1 * sin1; \
}
DEFINE_NORMALS(normals4_r, philox4x32_10_r, philox_words_r, floatR, uintR, vlog_r, vsincos_r)

// Raw Philox output, for bit-exact tests against the host implementation.
__kernel void philox_bits(__global uint* out, int blocks, uint sample, uint step_lo, uint step_hi, uint seed_lo, uint seed_hi) {
    int b = get_global_id(0);
    if (b >= blocks) return;
    philox_words w = philox4x32_10((uint)b, sample, step_lo, step_hi, seed_lo, seed_hi);
    vstore4((uint4)(w.x, w.y, w.z, w.w), b, out);
}
// Runs BODY for each element i of this work-item, with its normal draw in eps (T = float) or
// for REGISTER_WIDTH consecutive elements from i on in vector lanes (T = floatR): the one place
// that maps work-items to Philox blocks and lanes. Element g of the batch takes lane g % 4 of
// block g / 4. The draws are made before any branch, for REGISTER_WIDTH blocks in vector lanes
// (Mesa's rusticl warns "Treating load_kernel_arg in control flow as uniform, results may be
// incorrect" when the counter arguments are read inside control flow).
// Unsharded (shard_rows == 0), a work-item takes REGISTER_WIDTH blocks, 4·REGISTER_WIDTH
// consecutive elements: lane j of e0..e3 holds block j's four draws, put in element order by
// `interleave4` (each vector of elements takes a quarter of the lanes of each draw), BODY on
// whole vectors, one element at a time past the end of a full group.
// Sharded (data parallelism), a work-item takes one element (row, col) of rows `width` wide and
// draws lane g % 4 of block g / 4 (every vector lane the same block), where g = global_row ·
// width + col and global_row = (row / shard_rows) · shard_global_rows + shard_first + row %
// shard_rows (BatchShard.globalRow), so each row gets the noise of its place in the whole batch.
#define SHARD_PARAMETERS int width, int shard_first, int shard_rows, int shard_global_rows
#if REGISTER_WIDTH == 16
// Lanes 4t + l of the result = lane t of the l-th argument (t < 4).
__attribute__((always_inline)) inline float16 interleave4(float4 a, float4 b, float4 c, float4 d) {
    return (float16)(a.s0, b.s0, c.s0, d.s0, a.s1, b.s1, c.s1, d.s1, a.s2, b.s2, c.s2, d.s2, a.s3, b.s3, c.s3, d.s3);
}
#define BLOCK_LANES (uintR)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define QUARTER_0 s0123
#define QUARTER_1 s4567
#define QUARTER_2 s89ab
#define QUARTER_3 scdef
#else
__attribute__((always_inline)) inline float8 interleave4(float2 a, float2 b, float2 c, float2 d) {
    return (float8)(a.s0, b.s0, c.s0, d.s0, a.s1, b.s1, c.s1, d.s1);
}
#define BLOCK_LANES (uintR)(0, 1, 2, 3, 4, 5, 6, 7)
#define QUARTER_0 s01
#define QUARTER_1 s23
#define QUARTER_2 s45
#define QUARTER_3 s67
#endif
// The q-th REGISTER_WIDTH elements of an unsharded work-item (see FOR_EACH_NORMAL).
#define NORMALS_QUARTER(q, n, SCALAR_BODY, VECTOR_BODY) { \
    floatR eps = interleave4(e0.QUARTER_##q, e1.QUARTER_##q, e2.QUARTER_##q, e3.QUARTER_##q); \
    int i = first + (q) * REGISTER_WIDTH; \
    if (i + REGISTER_WIDTH <= (n)) { \
        VECTOR_BODY; \
    } else if (i < (n)) { \
        float lanes[REGISTER_WIDTH]; \
        vstoreR(eps, 0, lanes); \
        for (int j = 0; i + j < (n); ++j) { float eps = lanes[j]; int i_ = i + j; { int i = i_; SCALAR_BODY; } } \
    } \
}
#define FOR_EACH_NORMAL(n, SCALAR_BODY, VECTOR_BODY) { \
    int id = get_global_id(0), per = max(shard_rows, 1), row = id / max(width, 1); \
    uint g = (uint)(((row / per) * shard_global_rows + shard_first + row % per) * width + (id - row * width)); \
    floatR e0, e1, e2, e3; \
    normals4_r(shard_rows > 0 ? (uintR)(g >> 2) : (uint)id * REGISTER_WIDTH + BLOCK_LANES, \
               sample, step_lo, step_hi, seed_lo, seed_hi, &e0, &e1, &e2, &e3); \
    if (shard_rows > 0) { \
        float lanes[4] = {e0.s0, e1.s0, e2.s0, e3.s0}; \
        if (id < (n)) { int i = id; float eps = lanes[g & 3u]; SCALAR_BODY; } \
    } else { \
        int first = id * 4 * REGISTER_WIDTH; \
        NORMALS_QUARTER(0, n, SCALAR_BODY, VECTOR_BODY) \
        NORMALS_QUARTER(1, n, SCALAR_BODY, VECTOR_BODY) \
        NORMALS_QUARTER(2, n, SCALAR_BODY, VECTOR_BODY) \
        NORMALS_QUARTER(3, n, SCALAR_BODY, VECTOR_BODY) \
    } \
}

__kernel void random_normal(__global float* y, int n, uint sample, uint step_lo, uint step_hi, uint seed_lo, uint seed_hi) {
    int width = 1, shard_first = 0, shard_rows = 0, shard_global_rows = 0;  // never sharded
    FOR_EACH_NORMAL(n, y[i] = eps, vstoreR(eps, 0, y + i))
}

// z = μ + exp(½ log σ²) ε.
__kernel void reparameterize(__global float* z, __global const float* mean, __global const float* log_variance,
                             int n, uint sample, uint step_lo, uint step_hi, uint seed_lo, uint seed_hi, SHARD_PARAMETERS) {
    FOR_EACH_NORMAL(n, z[i] = mean[i] + vexp(0.5f * log_variance[i]) * eps,
                    vstoreR(vloadR(0, mean + i) + vexp_r(0.5f * vloadR(0, log_variance + i)) * eps, 0, z + i))
}

// d log σ² = dz ⊙ ε ⊙ ½ exp(½ log σ²), with ε regenerated from the counter.
__kernel void reparameterize_gradient(__global float* d_log_variance, __global const float* log_variance,
                                      __global const float* dz, int n, uint sample, uint step_lo, uint step_hi,
                                      uint seed_lo, uint seed_hi, SHARD_PARAMETERS) {
    FOR_EACH_NORMAL(n, d_log_variance[i] = dz[i] * eps * 0.5f * vexp(0.5f * log_variance[i]),
                    vstoreR(vloadR(0, dz + i) * eps * 0.5f * vexp_r(0.5f * vloadR(0, log_variance + i)), 0, d_log_variance + i))
}
