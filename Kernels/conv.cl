// Convolutions lowered to the GEMM kernels of matmul.cl: twins of CPUBackend/CPUConvolution.swift.
// The GEMM carries the structure per device (register blocks on CPU devices, see matmul.cl);
// these kernels only move data: patches in (im2col), channel rows out, and the gather form of
// col2im. Global sizes are rounded up, so each kernel guards its range.

// cols[(c*kh + i)*kw + j, n*P + v*Wo + u] = x[n, c, v*s - p + i, u*s - p + j] (0 outside x),
// P = Wo*Ho. Dimension 0 walks the columns, so neighbouring work-items write neighbours.
__kernel void im2col(__global float* cols, __global const float* x, int batch, int channels, int height, int width,
                     int kernel_height, int kernel_width, int stride, int padding, int out_height, int out_width) {
    int column = get_global_id(0), row = get_global_id(1);
    int plane = out_height * out_width, columns = batch * plane;
    if (column >= columns || row >= channels * kernel_height * kernel_width) return;
    int n = column / plane, q = column - n * plane;
    int v = q / out_width, u = q - v * out_width;
    int j = row % kernel_width, i = (row / kernel_width) % kernel_height, c = row / (kernel_width * kernel_height);
    int y = v * stride - padding + i, xx = u * stride - padding + j;
    float value = 0.0f;
    if (y >= 0 && y < height && xx >= 0 && xx < width) value = x[((size_t)(n * channels + c) * height + y) * width + xx];
    cols[(size_t)row * columns + column] = value;
}

// rows[c, n*P + q] = images[n, c, q]: the batch as one row per channel.
__kernel void images_to_channel_rows(__global float* rows, __global const float* images, int batch, int channels, int plane) {
    int i = get_global_id(0);
    if (i >= batch * channels * plane) return;
    int q = i % plane, c = (i / plane) % channels, n = i / (plane * channels);
    rows[((size_t)c * batch + n) * plane + q] = images[i];
}

// images[n, c, q] = act(rows[c, n*P + q] + bias[c]): the GEMM's channel rows back to images.
__kernel void channel_rows_to_images(__global float* images, __global const float* rows, __global const float* bias,
                                     int batch, int channels, int plane, int has_bias, int act, float slope) {
    int i = get_global_id(0);
    if (i >= batch * channels * plane) return;
    int q = i % plane, c = (i / plane) % channels, n = i / (plane * channels);
    float b = has_bias ? bias[c] : 0.0f;
    images[i] = activate(act, slope, rows[((size_t)c * batch + n) * plane + q] + b);
}

// The transposed convolution's col2im in gather form: output pixel (n, c, y, x) adds, in
// (i, j) order, the one column entry with v*s - p + i = y and u*s - p + j = x, then bias and
// activation. cols is [C*kh*kw, N*H*W] over the input's H×W pixels. No atomics, fixed order.
__kernel void col2im(__global float* out, __global const float* cols, __global const float* bias,
                     int batch, int channels, int height, int width, int kernel_height, int kernel_width,
                     int stride, int padding, int out_height, int out_width, int has_bias, int act, float slope) {
    int index = get_global_id(0);
    int out_plane = out_height * out_width;
    if (index >= batch * channels * out_plane) return;
    int q = index % out_plane, c = (index / out_plane) % channels, n = index / (out_plane * channels);
    int y = q / out_width, x = q - y * out_width;
    int plane = height * width;
    size_t columns = (size_t)batch * plane;
    float acc = 0.0f;
    for (int i = 0; i < kernel_height; ++i) {
        int ty = y + padding - i;
        if (ty < 0 || ty % stride != 0 || ty / stride >= height) continue;
        int v = ty / stride;
        for (int j = 0; j < kernel_width; ++j) {
            int tx = x + padding - j;
            if (tx < 0 || tx % stride != 0 || tx / stride >= width) continue;
            acc += cols[(size_t)((c * kernel_height + i) * kernel_width + j) * columns + (size_t)n * plane + v * width + tx / stride];
        }
    }
    out[index] = activate(act, slope, acc + (has_bias ? bias[c] : 0.0f));
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
