// Convolutions lowered to the GEMM kernels of matmul.cl: twins of CPUBackend/CPUConvolution.swift.
// The GEMM carries the structure per device (register blocks on CPU devices, see matmul.cl);
// these kernels only move data: patches in (im2col), channel rows out, and the gather form of
// col2im. Global sizes are rounded up, so each kernel guards its range.

// a / b for 0 ≤ a < 2^22 and b ≥ 1, through a float product and one correction: CPU devices
// cannot vectorize integer division, and these quotients differ between work-items. The
// launchers keep planes below 2^22 pixels.
inline int small_quotient(int a, int b) {
    int q = (int)((float)a * (1.0f / (float)b));
    q -= q * b > a;
    q += (q + 1) * b <= a;
    return q;
}

// cols[(c*kh + i)*kw + j, n*P + v*Wo + u] = x[n, c, v*s - p + i, u*s - p + j] (0 outside x),
// P = Wo*Ho. The range is (pixel q of the plane, image n, patch row): n and the row are the
// same across a work-group, so only q / Wo differs between work-items. Neighbouring
// work-items write neighbours.
__kernel void im2col(__global float* cols, __global const float* x, int batch, int channels, int height, int width,
                     int kernel_height, int kernel_width, int stride, int padding, int out_height, int out_width) {
    int q = get_global_id(0), n = get_global_id(1), row = get_global_id(2);
    int plane = out_height * out_width;
    if (q >= plane || n >= batch || row >= channels * kernel_height * kernel_width) return;
    int v = small_quotient(q, out_width), u = q - v * out_width;
    int j = row % kernel_width, i = (row / kernel_width) % kernel_height, c = row / (kernel_width * kernel_height);
    int y = v * stride - padding + i, xx = u * stride - padding + j;
    float value = 0.0f;
    if (y >= 0 && y < height && xx >= 0 && xx < width) value = x[((size_t)(n * channels + c) * height + y) * width + xx];
    cols[(size_t)row * batch * plane + (size_t)n * plane + q] = value;
}

// rows[c, n*P + q] = images[n, c, q]: the batch as one row per channel. Range (q, c, n).
__kernel void images_to_channel_rows(__global float* rows, __global const float* images, int batch, int channels, int plane) {
    int q = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (q >= plane || c >= channels || n >= batch) return;
    rows[((size_t)c * batch + n) * plane + q] = images[((size_t)n * channels + c) * plane + q];
}

// images[n, c, q] = act(rows[c, n*P + q] + bias[c]): the GEMM's channel rows back to images.
// Range (q, c, n).
__kernel void channel_rows_to_images(__global float* images, __global const float* rows, __global const float* bias,
                                     int batch, int channels, int plane, int has_bias, int act, float slope) {
    int q = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (q >= plane || c >= channels || n >= batch) return;
    float b = has_bias ? bias[c] : 0.0f;
    images[((size_t)n * channels + c) * plane + q] = activate(act, slope, rows[((size_t)c * batch + n) * plane + q] + b);
}

// The transposed convolution's col2im in gather form: output pixel (n, c, y, x) adds, in
// (i, j) order, the one column entry with v*s - p + i = y and u*s - p + j = x, then bias and
// activation. cols is [C*kh*kw, N*H*W] over the input's H×W pixels. No atomics, fixed order.
// Range (output pixel q, c, n); only the taps with i ≡ y + p and j ≡ x + p (mod s) are visited,
// in increasing order, so the divisions are one per axis instead of one per tap.
__kernel void col2im(__global float* out, __global const float* cols, __global const float* bias,
                     int batch, int channels, int height, int width, int kernel_height, int kernel_width,
                     int stride, int padding, int out_height, int out_width, int has_bias, int act, float slope) {
    int q = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    int out_plane = out_height * out_width;
    if (q >= out_plane || c >= channels || n >= batch) return;
    // Integer division here: small_quotient measured slower in this kernel on PoCL.
    int y = q / out_width, x = q - y * out_width;
    int plane = height * width;
    size_t columns = (size_t)batch * plane;
    __global const float* image = cols + (size_t)n * plane;
    // Taps i = i0, i0 + s, … read input row v = (y + p - i) / s = v0, v0 - 1, …
    int i0 = (y + padding) % stride, v0 = (y + padding) / stride;
    int j0 = (x + padding) % stride, u0 = (x + padding) / stride;
    float acc = 0.0f;
    for (int i = i0, v = v0; i < kernel_height; i += stride, --v) {
        if (v < 0) break;
        if (v >= height) continue;
        for (int j = j0, u = u0; j < kernel_width; j += stride, --u) {
            if (u < 0) break;
            if (u >= width) continue;
            acc += image[(size_t)((c * kernel_height + i) * kernel_width + j) * columns + v * width + u];
        }
    }
    out[((size_t)n * channels + c) * out_plane + q] = activate(act, slope, acc + (has_bias ? bias[c] : 0.0f));
}

// y[c] = scale * Σ_n Σ_q x[n, c, q], one work-item per channel, summed in a fixed order.
__kernel void reduce_channels(__global float* y, __global const float* x, int batch, int channels, int plane, float scale) {
    int c = get_global_id(0);
    if (c >= channels) return;
    float total = 0.0f;
    for (int n = 0; n < batch; ++n) {
        __global const float* p = x + ((size_t)n * channels + c) * plane;
        for (int q = 0; q < plane; ++q) total += p[q];
    }
    y[c] = total * scale;
}
