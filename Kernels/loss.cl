// The fused VAE loss: twin of CPUBackend/CPULoss.swift.
// `likelihood` is a LIKELIHOOD_* code: Bernoulli on logits, Gaussian with fixed σ, the
// calibrated Gaussian (σ² = the batch's mean squared error, floored at 1e-6), or a Gaussian with
// a variance per feature (calibrated per feature from the batch, or given). `mc` selects the
// Monte-Carlo KL at the sampled z instead of the closed form.
// terms[b] = (−log p(x_b | z_b) summed over the pixels, KL_b) in nats.

#define MIN_CALIBRATED_VARIANCE 1e-6f

inline float pixel_loss(int likelihood, float sigma, float x, float l) {
    // max(l, 0) and |l| as selects: with the fmax and fabs builtins PoCL left the kernel
    // scalar (one pixel at a time).
    if (likelihood == LIKELIHOOD_BERNOULLI) return (l > 0.0f ? l : 0.0f) + vlog1p(vexp(l > 0.0f ? -l : l)) - x * l;
    float d = x - l;
    if (likelihood == LIKELIHOOD_CALIBRATED) return d * d;  // squared error; scaled once σ² is known
    return d * d / (2.0f * sigma * sigma) + vlog(sigma) + 0.91893853320467274f;
}

inline float latent_kl(int mc, float mu, float lv, float z) {
    if (mc) {
        float d = z - mu;
        return -0.5f * lv - 0.5f * d * d * exp(-lv) + 0.5f * z * z;
    }
    return -0.5f * (1.0f + lv - mu * mu - exp(lv));
}

// Stage 1, one work-item per pixel and one kernel per likelihood (a constant code lets PoCL
// vectorize; a run-time one made it 3-4x slower): each pixel's −log p (the squared error for
// the calibrated Gaussian) into `pixels`. The Bernoulli likelihood has stages 1 and 2 in one
// kernel (vae_loss_rows_bernoulli).
#define VAE_LOSS_PIXELS(LIKELIHOOD) int i = get_global_id(0); if (i < n) pixels[i] = pixel_loss(LIKELIHOOD, sigma, x[i], decoded[i]);
__kernel void vae_loss_pixels_gaussian(__global float* pixels, __global const float* x, __global const float* decoded, int n, float sigma) { VAE_LOSS_PIXELS(LIKELIHOOD_GAUSSIAN) }
__kernel void vae_loss_pixels_calibrated(__global float* pixels, __global const float* x, __global const float* decoded, int n, float sigma) { VAE_LOSS_PIXELS(LIKELIHOOD_CALIBRATED) }

// The Bernoulli likelihood's stages 1 and 2 in one: one work-item per example sums its pixels'
// −log p in REGISTER_WIDTH lanes (then the lanes, then the remainder one by one) and its KL
// terms, into terms[b]. PoCL had vectorized the per-pixel kernel in 256-bit registers only and
// summed each row in a scalar chain. With `gradient` (a constant in each kernel) it also writes
// d decoded = d_loss/B · (σ(l) − x) for the row, σ(l) from the same exp(−|l|) as the loss:
// 1/(1 + e) for l > 0, e/(1 + e) otherwise.
__attribute__((always_inline)) inline void bernoulli_rows(__global float* terms, __global float* d_decoded, __global const float* x,
                                                          __global const float* decoded, __global const float* mean,
                                                          __global const float* log_variance, __global const float* z,
                                                          __global const float* d_loss, int batch, int data_size, int latent_size,
                                                          int mc, int gradient) {
    int b = get_global_id(0);
    if (b >= batch) return;
    size_t row = (size_t)b * data_size;
    __global const float* xr = x + row;
    __global const float* lr = decoded + row;
    __global float* dr = d_decoded + row;
    float scale = gradient ? d_loss[0] / (float)batch : 0.0f;
    floatR lanes = 0.0f;
    int whole = data_size & ~(REGISTER_WIDTH - 1);
    for (int i = 0; i < whole; i += REGISTER_WIDTH) {
        floatR l = vloadR(0, lr + i), xi = vloadR(0, xr + i);
        intR positive = l > 0.0f;
        floatR e = vexp_r(select(l, -l, positive));
        lanes += select((floatR)0.0f, l, positive) + vlog1p_r(e) - xi * l;
        if (gradient) {
            floatR r = 1.0f / (1.0f + e);
            vstoreR(scale * (select(e * r, r, positive) - xi), 0, dr + i);
        }
    }
    float reconstruction = hsum(lanes);
    for (int i = whole; i < data_size; ++i) {
        reconstruction += pixel_loss(LIKELIHOOD_BERNOULLI, 1.0f, xr[i], lr[i]);
        if (gradient) dr[i] = scale * (1.0f / (1.0f + vexp(-lr[i])) - xr[i]);
    }
    float kl = 0.0f;
    size_t lrow = (size_t)b * latent_size;
    for (int j = 0; j < latent_size; ++j) kl += latent_kl(mc, mean[lrow + j], log_variance[lrow + j], z[lrow + j]);
    terms[2 * b] = reconstruction;
    terms[2 * b + 1] = kl;
}

__kernel void vae_loss_rows_bernoulli(__global float* terms, __global const float* x, __global const float* decoded,
                                      __global const float* mean, __global const float* log_variance, __global const float* z,
                                      int batch, int data_size, int latent_size, int mc) {
    // No gradient: d_decoded and d_loss are never touched (terms and x stand in for them).
    bernoulli_rows(terms, terms, x, decoded, mean, log_variance, z, x, batch, data_size, latent_size, mc, 0);
}

// The same and d decoded (vaeLossWithGradient).
__kernel void vae_loss_rows_bernoulli_gradient(__global float* terms, __global float* d_decoded, __global const float* x,
                                               __global const float* decoded, __global const float* mean,
                                               __global const float* log_variance, __global const float* z,
                                               __global const float* d_loss, int batch, int data_size, int latent_size, int mc) {
    bernoulli_rows(terms, d_decoded, x, decoded, mean, log_variance, z, d_loss, batch, data_size, latent_size, mc, 1);
}

// Stage 1 with a variance per feature (σ²_j in `variances`, calibrated or given): each pixel's
// whole −log p = d²/(2σ²_j) + ½ log(2πσ²_j).
__kernel void vae_loss_pixels_feature_variance(__global float* pixels, __global const float* x, __global const float* decoded,
                                               __global const float* variances, int n, int data_size) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = variances[i % data_size], d = x[i] - decoded[i];
    pixels[i] = d * d / (2.0f * v) + 0.5f * log(6.2831853071795864769f * v);
}

// One work-item per feature j: variances[j] = the batch's mean squared error of feature j,
// floored at 1e-6 (the per-feature calibrated Gaussian).
__kernel void calibrated_feature_variances(__global float* variances, __global const float* x, __global const float* decoded,
                                           int batch, int data_size) {
    int j = get_global_id(0);
    if (j >= data_size) return;
    float sse = 0.0f;
    for (int b = 0; b < batch; ++b) {
        size_t i = (size_t)b * data_size + j;
        float d = x[i] - decoded[i];
        sse += d * d;
    }
    variances[j] = fmax(sse / (float)batch, MIN_CALIBRATED_VARIANCE);
}

// Stage 2, one work-item per example: the pixel terms and the KL terms, each summed in order.
__kernel void vae_loss_terms(__global float* terms, __global const float* pixels,
                             __global const float* mean, __global const float* log_variance, __global const float* z,
                             int batch, int data_size, int latent_size, int mc) {
    int b = get_global_id(0);
    if (b >= batch) return;
    float reconstruction = 0.0f;
    size_t row = (size_t)b * data_size;
    for (int i = 0; i < data_size; ++i) reconstruction += pixels[row + i];
    float kl = 0.0f;
    size_t lrow = (size_t)b * latent_size;
    for (int j = 0; j < latent_size; ++j) kl += latent_kl(mc, mean[lrow + j], log_variance[lrow + j], z[lrow + j]);
    terms[2 * b] = reconstruction;
    terms[2 * b + 1] = kl;
}

// One work-item: for the calibrated Gaussian, σ² from the squared errors and the final
// reconstruction terms; then the batch mean of reconstruction + β·KL, in example order.
__kernel void vae_loss_total(__global float* total, __global float* terms, int batch, int data_size, int likelihood, float beta) {
    // Launched as one work-item (global and local size 1). Branch-free: reading arguments
    // inside a branch made Mesa's rusticl warn that it treats them as uniform.
    const int calibrated = likelihood == LIKELIHOOD_CALIBRATED;
    float sse = 0.0f;
    for (int b = 0; b < batch; ++b) sse += terms[2 * b];
    float variance = fmax(sse / ((float)batch * (float)data_size), MIN_CALIBRATED_VARIANCE);
    float log_normalizer = 0.5f * (float)data_size * log(6.2831853071795864769f * variance);
    float sum = 0.0f;
    for (int b = 0; b < batch; ++b) {
        float reconstruction = calibrated ? terms[2 * b] / (2.0f * variance) + log_normalizer : terms[2 * b];
        terms[2 * b] = reconstruction;
        sum += reconstruction + beta * terms[2 * b + 1];
    }
    total[0] = sum / (float)batch;
}

// Squared error of each example (for the calibrated Gaussian's gradient).
__kernel void squared_error_rows(__global float* out, __global const float* x, __global const float* decoded, int batch, int data_size) {
    int b = get_global_id(0);
    if (b >= batch) return;
    float sum = 0.0f;
    size_t row = (size_t)b * data_size;
    for (int i = 0; i < data_size; ++i) {
        float d = x[row + i] - decoded[row + i];
        sum += d * d;
    }
    out[b] = sum;
}

// One work-item: stats[batch] = σ² of the calibrated Gaussian from the per-example errors in
// stats[0 ..< batch].
__kernel void calibrated_variance(__global float* stats, int batch, int data_size) {
    // Launched as one work-item (global and local size 1), so no guard: a branch before reading
    // the arguments made Mesa's rusticl warn that it treats them as uniform.
    float sse = 0.0f;
    for (int b = 0; b < batch; ++b) sse += stats[b];
    stats[batch] = fmax(sse / ((float)batch * (float)data_size), MIN_CALIBRATED_VARIANCE);
}

// The gradient, in two launches: one work-item per pixel, then one per latent element. d_loss
// stays on the device; σ² of the calibrated Gaussian is stats[variance_index], and a variance
// per feature is stats[i % data_size].
__kernel void vae_loss_gradient_pixels(__global float* d_decoded, __global const float* x, __global const float* decoded,
                                       __global const float* d_loss, __global const float* stats, int variance_index,
                                       int n, int batch, int data_size, int likelihood, float sigma) {
    int i = get_global_id(0);
    if (i >= n) return;
    float xi = x[i], l = decoded[i], g;
    int feature = i % data_size;
    switch (likelihood) {
    case LIKELIHOOD_BERNOULLI: g = 1.0f / (1.0f + vexp(-l)) - xi; break;
    case LIKELIHOOD_GAUSSIAN: g = (l - xi) / (sigma * sigma); break;
    case LIKELIHOOD_CALIBRATED: g = (l - xi) / stats[variance_index]; break;
    default: g = (l - xi) / stats[feature]; break;
    }
    d_decoded[i] = d_loss[0] / (float)batch * g;
}

// The Bernoulli case of vae_loss_gradient_pixels on its own (the same arithmetic): without the
// run-time switch and the feature index PoCL vectorizes it (563 → 198 µs per 128×784 here);
// REGISTER_WIDTH pixels per work-item in one vector (the last work-item one by one), so
// AVX-512 devices get 512-bit registers.
__kernel void vae_loss_gradient_bernoulli(__global float* d_decoded, __global const float* x, __global const float* decoded,
                                          __global const float* d_loss, int n, int batch) {
    int i = get_global_id(0) * REGISTER_WIDTH;
    if (i >= n) return;
    float scale = d_loss[0] / (float)batch;
    if (i + REGISTER_WIDTH <= n) {
        floatR g = 1.0f / (1.0f + vexp_r(-vloadR(0, decoded + i))) - vloadR(0, x + i);
        vstoreR(scale * g, 0, d_decoded + i);
        return;
    }
    for (; i < n; ++i) d_decoded[i] = scale * (1.0f / (1.0f + vexp(-decoded[i])) - x[i]);
}

// dμ, d log σ² (and dz for the Monte-Carlo KL), β-weighted.
__kernel void vae_loss_gradient_latents(__global float* d_mean, __global float* d_log_variance, __global float* d_z,
                                  __global const float* mean, __global const float* log_variance, __global const float* z,
                                  __global const float* d_loss, int n, int batch, float beta, int mc) {
    int i = get_global_id(0);
    if (i >= n) return;
    float k = d_loss[0] / (float)batch * beta, mu = mean[i], lv = log_variance[i];
    if (mc) {
        float zi = z[i], d = zi - mu, inverse_variance = exp(-lv);
        d_mean[i] = k * d * inverse_variance;
        d_log_variance[i] = k * (-0.5f + 0.5f * d * d * inverse_variance);
        d_z[i] = k * (zi - d * inverse_variance);
    } else {
        d_mean[i] = k * mu;
        d_log_variance[i] = k * 0.5f * (exp(lv) - 1.0f);
    }
}
