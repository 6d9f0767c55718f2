// The CPU backend's hot elementwise loops, compiled once per instruction set (AVX-512, AVX2
// with FMA, baseline SSE2) and chosen at run time by what the running CPU supports: Swift
// builds for baseline x86-64, so its own loops never use the wider vectors. Each function is
// named after the OpenCL kernel it twins, less the `vector_` prefix (vae_loss_rows_bernoulli,
// here summed per row; vae_loss_gradient_bernoulli; adam), or after the op it serves
// (bias_leaky_relu: `linear`'s epilogue; activation_gradient_leaky_relu). Callers split the
// work across cores; these run on one range each.
#ifndef CPUVECTOR_H
#define CPUVECTOR_H

/// One instruction set's copy of every function below (the same contracts).
struct vector_kernels {
    const char *isa;
    void (*vae_loss_rows_bernoulli)(float *out, const float *x, const float *logits, long rows, long width);
    void (*vae_loss_gradient_bernoulli)(float *out, const float *x, const float *logits, long count, float scale);
    void (*adam)(float *p, const float *g, float *m, float *v, long count,
                 float beta1, float beta2, float lr, float eps, float c1, float c2);
    void (*bias_leaky_relu)(float *y, const float *bias, long rows, long n, float slope);
    void (*activation_gradient_leaky_relu)(float *dx, const float *y, const float *dy, long count, float slope);
};

/// The copy the functions below run with: the widest the running CPU supports.
const struct vector_kernels *vector_kernels_chosen(void);

/// The copy for `isa` ("avx512f", "avx2+fma" or "sse2"), or NULL when this build lacks it or
/// the running CPU cannot execute it: for tests that compare every copy with the reference.
const struct vector_kernels *vector_kernels_named(const char *isa);

/// Per row r < rows: out[r] = Σ_j max(l, 0) + log(1 + e^(−|l|)) − x·l over the `width` pixels
/// of row r (x and logits [rows, width], row-major), the Bernoulli −log p(x | logits).
void vector_vae_loss_rows_bernoulli(float *out, const float *x, const float *logits, long rows, long width);

/// out[i] = scale · (σ(logits[i]) − x[i]) for i < count: the Bernoulli loss's gradient.
void vector_vae_loss_gradient_bernoulli(float *out, const float *x, const float *logits, long count, float scale);

/// Adam in place for i < count: m = β₁m + (1−β₁)g, v = β₂v + (1−β₂)g²,
/// p −= lr · (m·c1) / (√(v·c2) + ε), with c1, c2 the bias corrections 1/(1−βᵗ).
void vector_adam(float *p, const float *g, float *m, float *v, long count,
                 float beta1, float beta2, float lr, float eps, float c1, float c2);

/// The epilogue of `linear`: y[r·n + j] = act(y[r·n + j] + bias[j]) for r < rows, j < n, with
/// act(t) = t for t > 0 and slope·t otherwise (slope 0: ReLU; slope 1: identity).
void vector_bias_leaky_relu(float *y, const float *bias, long rows, long n, float slope);

/// The gradient through that activation, from its output y: dx[i] = dy[i] where y[i] > 0,
/// else slope·dy[i] (0 for slope 0).
void vector_activation_gradient_leaky_relu(float *dx, const float *y, const float *dy, long count, float slope);

/// Sets the calling thread to flush denormal results to zero and read denormal inputs as zero
/// (MXCSR FTZ and DAZ, as XLA does), returning the previous state for
/// `vector_restore_denormals`: a product or an update that reaches 1e-38 would otherwise take a
/// microcode assist of about 100 cycles per element. No effect off x86-64.
unsigned vector_flush_denormals(void);

/// A spin-wait hint to the CPU (x86 `pause`), for threads that poll for work.
void vector_pause(void);

/// Puts back the state `vector_flush_denormals` returned.
void vector_restore_denormals(unsigned previous);

#endif
