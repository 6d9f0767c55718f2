// Shared by every kernel file (the program is built from all of Kernels/, this file first).
// The codes ACTIVATION_* and LIKELIHOOD_* are build options generated from the Swift enums
// (OpenCLBackend/KernelCodes.swift); kernels take them as `int act` / `int likelihood`.

// Floats per vector register of the register tiles (matmul.cl) and of the column sums
// (reduce_rows): 16 where the device has 512-bit registers (AVX-512; PoCL compiles float8 to
// 256-bit registers there), else 8. TileConfiguration picks it.
#ifndef REGISTER_WIDTH
#define REGISTER_WIDTH 8
#endif
#if REGISTER_WIDTH == 16
#define floatR float16
#define intR int16
#define uintR uint16
#define ulongR ulong16
#define convert_uintR convert_uint16
#define convert_ulongR convert_ulong16
#define vloadR vload16
#define vstoreR vstore16
#define as_floatR as_float16
#define as_intR as_int16
#define convert_intR convert_int16
#define convert_floatR convert_float16
#else
#define floatR float8
#define intR int8
#define uintR uint8
#define ulongR ulong8
#define convert_uintR convert_uint8
#define convert_ulongR convert_ulong8
#define vloadR vload8
#define vstoreR vstore8
#define as_floatR as_float8
#define as_intR as_int8
#define convert_intR convert_int8
#define convert_floatR convert_float8
#endif

// The sum of a vector's lanes, pairwise.
inline float hsum(floatR v) {
#if REGISTER_WIDTH == 16
    float8 e = v.lo + v.hi;
#else
    float8 e = v;
#endif
    float4 s = e.lo + e.hi;
    return (s.x + s.y) + (s.z + s.w);
}

// a·b + c. Fused (`fma`) where the device does it in hardware (CL_FP_FMA in its single-precision
// configuration: the host then passes -DHARDWARE_FMA), else `mad`. PoCL compiles `mad` to a
// multiply and an add (vmulps + vaddps, half the rate of the FMA units); with `fma` the
// register-tile products on this AVX-512 host went from 0.65 to about 1.0× OpenBLAS.
#ifdef HARDWARE_FMA
#define mul_add fma
#else
#define mul_add mad
#endif

// The products' accumulators (matmul_tile, matmul_nt_panel, matmul_generic, gemm_tiled) each sum
// at most K_BLOCK products along K before they are added to their running totals and start
// again from 0. One float chain along all of K rounds more, and not evenly: on PoCL the encoder
// layer 128×1568→32 of a one-convolution model came out with 3× OpenBLAS's error (which sums
// blocks of K too) and a drift of the same sign batch after batch. A product with K ≤ K_BLOCK
// is bit for bit what one chain gives (0 + s = s). The dot-product kernels (dot_tile,
// matmul_nt_dots) need no blocks: they sum in REGISTER_WIDTH lanes, chains of K / REGISTER_WIDTH.
#define K_BLOCK 256

// exp and log for the hot per-pixel loops. With -DPOLY_MATH (set for CPU devices) they are
// Cephes' polynomial forms, plain arithmetic that PoCL vectorizes across work-items; PoCL's
// builtins are called one element at a time (measured: 7 ns per call, 100× an add). On GPUs
// the builtins are hardware instructions and are used as they are.
#ifdef POLY_MATH
// Each defined once for float (T = float, I = int) and once for REGISTER_WIDTH lanes (floatR,
// intR), the branches as selects, so both forms do the same arithmetic lane by lane. PoCL
// vectorizes the scalar forms across work-items, in 256-bit registers only; the floatR forms
// get 512-bit ones on AVX-512 devices.
#define DEFINE_VEXP(NAME, T, I) \
inline T NAME(T x) { \
    x = select(x, (T)(-87.33654f), x < -87.33654f); \
    x = select(x, (T)(88.72284f), x > 88.72284f); \
    T n = floor(x * 1.44269504088896341f + 0.5f); \
    T r = x - n * 0.693359375f + n * 2.12194440e-4f; \
    T p = 1.9875691500e-4f; \
    p = mul_add(p, r, 1.3981999507e-3f); \
    p = mul_add(p, r, 8.3334519073e-3f); \
    p = mul_add(p, r, 4.1665795894e-2f); \
    p = mul_add(p, r, 1.6666665459e-1f); \
    p = mul_add(p, r, 5.0000001201e-1f); \
    T y = mul_add(p, r * r, r + 1.0f); \
    /* 2ⁿ through the exponent bits; n ∈ [−126, 128] after the clamp, so scale in two halves. */ \
    I k = convert_##I(n); \
    I k1 = k / 2, k2 = k - k1; \
    return y * as_##T((k1 + 127) << 23) * as_##T((k2 + 127) << 23); \
}

// log(x) for finite x > 0 (normal numbers); the mantissa m in [0.5, 1).
#define DEFINE_VLOG(NAME, T, I) \
inline T NAME(T x) { \
    I bits = as_##I(x); \
    I e = ((bits >> 23) & 0xff) - 126; \
    T m = as_##T((bits & 0x007fffff) | 0x3f000000); \
    I small = m < 0.707106781186547524f; \
    e = select(e, e - 1, small); \
    m = select(m - 1.0f, m + m - 1.0f, small); \
    T z = m * m; \
    T p = 7.0376836292e-2f; \
    p = mul_add(p, m, -1.1514610310e-1f); \
    p = mul_add(p, m, 1.1676998740e-1f); \
    p = mul_add(p, m, -1.2420140846e-1f); \
    p = mul_add(p, m, 1.4249322787e-1f); \
    p = mul_add(p, m, -1.6668057665e-1f); \
    p = mul_add(p, m, 2.0000714765e-1f); \
    p = mul_add(p, m, -2.4999993993e-1f); \
    p = mul_add(p, m, 3.3333331174e-1f); \
    T fe = convert_##T(e); \
    T y = p * m * z - 2.12194440e-4f * fe - 0.5f * z; \
    return m + y + 0.693359375f * fe; \
}

DEFINE_VEXP(vexp, float, int)
DEFINE_VEXP(vexp_r, floatR, intR)
DEFINE_VLOG(vlog, float, int)
DEFINE_VLOG(vlog_r, floatR, intR)

// log(1 + x) for x ∈ [0, 1]: through log(1 + x), exact enough for the loss sums (the absolute
// error stays below 1e-7), with the series for tiny x where 1 + x would round to 1.
inline float vlog1p(float x) { return x < 1e-4f ? x * (1.0f - 0.5f * x) : vlog(1.0f + x); }

// sin and cos of a (|a| up to a few π) together: reduced to r ∈ [−π/4, π/4] by the nearest
// multiple q of π/2 (in three parts, Cephes' DP1–DP3), Cephes' sinf/cosf polynomials on r, then
// swapped and negated by q mod 4. About 1e-7 absolute error. On REGISTER_WIDTH lanes (the
// Box–Muller draws of sampling.cl).
#define DEFINE_VSINCOS(NAME, T, I) \
__attribute__((always_inline)) inline void NAME(T a, T* sine, T* cosine) { \
    T q = floor(a * 0.636619772367581343f + 0.5f); \
    T r = ((a - q * 1.5703125f) - q * 4.837512969970703125e-4f) - q * 7.54978995489188216e-8f; \
    T z = r * r; \
    T s = mul_add(mul_add(mul_add(-1.9515295891e-4f, z, 8.3321608736e-3f), z, -1.6666654611e-1f), z * r, r); \
    T c = mul_add(mul_add(mul_add(2.443315711809948e-5f, z, -1.388731625493765e-3f), z, 4.166664568298827e-2f), z * z, 1.0f - 0.5f * z); \
    I k = convert_##I(q); \
    T sw = select(s, c, (k & 1) != 0), cw = select(c, s, (k & 1) != 0); \
    *sine = select(sw, -sw, (k & 2) != 0); \
    *cosine = select(cw, -cw, ((k + 1) & 2) != 0); \
}
DEFINE_VSINCOS(vsincos_r, floatR, intR)

inline floatR vlog1p_r(floatR x) { return select(vlog_r(1.0f + x), x * (1.0f - 0.5f * x), x < 1e-4f); }
#else
#define vexp exp
#define vlog log
#define vlog1p log1p
#define vexp_r exp
#define vlog_r log
#define vlog1p_r log1p
__attribute__((always_inline)) inline void vsincos_r(floatR a, floatR* s, floatR* c) { *s = sin(a); *c = cos(a); }
#endif

// act(x) for an ACTIVATION_* code. Always inlined: PoCL builds with `inline` defined away, and
// as a called function it cost one call per output element in the GEMM epilogues (perf:
// 2–4.5% of PoCL steps as its own symbol); inlined, the conv step went 59 → 56 ms.
__attribute__((always_inline)) inline float activate(int act, float slope, float x) {
    switch (act) {
    case ACTIVATION_RELU: return fmax(x, 0.0f);
    case ACTIVATION_LEAKY_RELU: return x > 0.0f ? x : slope * x;
    case ACTIVATION_SIGMOID: return 1.0f / (1.0f + vexp(-x));
    case ACTIVATION_TANH: return tanh(x);
    case ACTIVATION_SOFTPLUS: return fmax(x, 0.0f) + vlog1p(vexp(-fabs(x)));
    default: return x;
    }
}

// `activate` on REGISTER_WIDTH lanes at once (the GEMM epilogues of matmul_tile).
__attribute__((always_inline)) inline floatR activate_r(int act, float slope, floatR x) {
    switch (act) {
    case ACTIVATION_RELU: return select((floatR)0.0f, x, x > 0.0f);
    case ACTIVATION_LEAKY_RELU: return select(slope * x, x, x > 0.0f);
    case ACTIVATION_SIGMOID: return 1.0f / (1.0f + vexp_r(-x));
    case ACTIVATION_TANH: return tanh(x);
    case ACTIVATION_SOFTPLUS: return select((floatR)0.0f, x, x > 0.0f) + vlog1p_r(vexp_r(select(x, -x, x > 0.0f)));
    default: return x;
    }
}

// act'(x) written through the output y = act(x) (see CPUBackend's activationDerivative).
inline float activation_derivative(int act, float slope, float y) {
    switch (act) {
    case ACTIVATION_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case ACTIVATION_LEAKY_RELU: return y > 0.0f ? 1.0f : slope;
    case ACTIVATION_SIGMOID: return y * (1.0f - y);
    case ACTIVATION_TANH: return 1.0f - y * y;
    case ACTIVATION_SOFTPLUS: return -expm1(-y);  // not hot: only softplus layers
    default: return 1.0f;
    }
}

// The Adam step, for optim.cl's updates and the fused weight update of matmul.cl's tiles.
// c1 = 1/(1 − β₁ᵗ), c2 = 1/(1 − β₂ᵗ), computed on the host in float64. Each work-item updates
// REGISTER_WIDTH consecutive elements in vector registers (the last one those that are left).
#define ADAM_STEP(T, gi, mi, vi, pi) { \
    mi = beta1 * mi + (1.0f - beta1) * gi; \
    vi = beta2 * vi + (1.0f - beta2) * gi * gi; \
    pi -= lr * (mi * c1) / (sqrt(vi * c2) + epsilon); }
// The step on the REGISTER_WIDTH elements from `first` with gradient vector gi, or on element j.
#define ADAM_VECTOR(first, gi) { \
    floatR mi = vloadR(0, m + (first)), vi = vloadR(0, v + (first)), pi = vloadR(0, p + (first)); \
    ADAM_STEP(floatR, gi, mi, vi, pi) \
    vstoreR(mi, 0, m + (first)); vstoreR(vi, 0, v + (first)); vstoreR(pi, 0, p + (first)); }
#define ADAM_ELEMENT(j, gj) { \
    float gi = (gj), mi = m[j], vi = v[j], pi = p[j]; \
    ADAM_STEP(float, gi, mi, vi, pi) \
    m[j] = mi; v[j] = vi; p[j] = pi; }
