// The fused VAE loss: twin of CPUBackend/CPULoss.swift. Likelihood codes: 0 Bernoulli on
// logits, 1 Gaussian with fixed σ.
// terms[b] = (−log p(x_b | z_b) summed over the pixels, KL(q(z|x_b) ‖ N(0, I))) in nats.

inline float pixel_nll(int likelihood, float sigma, float x, float l) {
    if (likelihood == 0) return fmax(l, 0.0f) + log1p(exp(-fabs(l))) - x * l;
    float d = x - l;
    return d * d / (2.0f * sigma * sigma) + log(sigma) + 0.91893853320467274f;
}

inline float pixel_gradient(int likelihood, float sigma, float x, float l) {
    if (likelihood == 0) return 1.0f / (1.0f + exp(-l)) - x;
    return (l - x) / (sigma * sigma);
}

// One work-item per example: its reconstruction and KL terms, each summed in order.
__kernel void vae_loss_terms(__global float* terms, __global const float* x, __global const float* decoded,
                             __global const float* mean, __global const float* log_variance,
                             int batch, int data_size, int latent_size, int likelihood, float sigma) {
    int b = get_global_id(0);
    if (b >= batch) return;
    float reconstruction = 0.0f;
    size_t row = (size_t)b * data_size;
    for (int i = 0; i < data_size; ++i) reconstruction += pixel_nll(likelihood, sigma, x[row + i], decoded[row + i]);
    float kl = 0.0f;
    size_t lrow = (size_t)b * latent_size;
    for (int j = 0; j < latent_size; ++j) {
        float lv = log_variance[lrow + j], mu = mean[lrow + j];
        kl += -0.5f * (1.0f + lv - mu * mu - exp(lv));
    }
    terms[2 * b] = reconstruction;
    terms[2 * b + 1] = kl;
}

// One work-item: the batch mean of reconstruction + β·KL, in example order.
__kernel void vae_loss_total(__global float* total, __global const float* terms, int batch, float beta) {
    if (get_global_id(0) != 0) return;
    float sum = 0.0f;
    for (int b = 0; b < batch; ++b) sum += terms[2 * b] + beta * terms[2 * b + 1];
    total[0] = sum / (float)batch;
}

// The whole gradient in one launch: work-item i writes d decoded[i] and, for i < batch·latent,
// dμ[i] and d log σ²[i]. The incoming scalar d_loss stays on the device.
__kernel void vae_loss_backward(__global float* d_decoded, __global float* d_mean, __global float* d_log_variance,
                                __global const float* x, __global const float* decoded, __global const float* mean,
                                __global const float* log_variance, __global const float* d_loss,
                                int batch, int data_size, int latent_size, int likelihood, float sigma, float beta) {
    int i = get_global_id(0);
    float scale = d_loss[0] / (float)batch;
    if (i < batch * data_size) d_decoded[i] = scale * pixel_gradient(likelihood, sigma, x[i], decoded[i]);
    if (i < batch * latent_size) {
        d_mean[i] = scale * beta * mean[i];
        d_log_variance[i] = scale * beta * 0.5f * (exp(log_variance[i]) - 1.0f);
    }
}
