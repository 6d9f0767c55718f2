// Convolutions lowered to the GEMM kernels of matmul.cl: twins of CPUBackend/CPUConvolution.swift.
// The GEMM carries the structure per device (register blocks on CPU devices, see matmul.cl);
// these kernels only move data: patches in (im2col), channel rows out, and the gather form of
// col2im. Global sizes are rounded up, so each kernel guards its range.

// cols[(c*kh + i)*kw + j, n*P + v*Wo + u] = x[n, c, v*s - p + i, u*s - p + j] (0 outside x),
// P = Wo*Ho. One work-item per `rows_per_item` output rows v of one image n and one patch row:
// for each it writes the zeros left and right of the image and the strided run inside it. The
// range is (v block, n, patch row) with work-groups along n, so the patch row (and its c, i, j)
// is the same across a work-group and no work-item divides per value. CPU devices take whole
// planes per work-item (PoCL's cost per work-item was most of this kernel's time with one row
// each: 458,752 work-items of 7 values for a 32×14×14 input); GPUs one row (rows_per_item 1).
__kernel void im2col(__global float* cols, __global const float* x, int batch, int channels, int height, int width,
                     int kernel_height, int kernel_width, int stride, int padding, int out_height, int out_width,
                     int rows_per_item) {
    int v0 = get_global_id(0) * rows_per_item, n = get_global_id(1), row = get_global_id(2);
    int j = row % kernel_width, i = (row / kernel_width) % kernel_height, c = row / (kernel_width * kernel_height);
    if (v0 >= out_height || n >= batch || row >= channels * kernel_height * kernel_width) return;
    __global const float* in = x + (size_t)(n * channels + c) * height * width;
    // Columns u with 0 ≤ u*s - p + j < width: u in [first, last).
    int offset = j - padding;
    int first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int last = offset >= width ? 0 : min(out_width, (width - 1 - offset) / stride + 1);
    first = min(first, out_width);
    last = max(last, first);
    int v_end = min(out_height, v0 + rows_per_item);
    for (int v = v0; v < v_end; ++v) {
        __global float* out = cols + (size_t)row * batch * out_height * out_width + ((size_t)n * out_height + v) * out_width;
        int y = v * stride - padding + i;
        if (y < 0 || y >= height) {
            for (int u = 0; u < out_width; ++u) out[u] = 0.0f;
            continue;
        }
        __global const float* line = in + (size_t)y * width;
        for (int u = 0; u < first; ++u) out[u] = 0.0f;
        for (int u = first; u < last; ++u) out[u] = line[u * stride + offset];
        for (int u = last; u < out_width; ++u) out[u] = 0.0f;
    }
}

// rows[c, n*P + q] = images[n, c, q]: the batch as one row per channel. Range (q block, c, n),
// `per_item` values q per work-item: the whole plane on CPU devices, 1 on GPUs (as im2col).
__kernel void images_to_channel_rows(__global float* rows, __global const float* images, int batch, int channels, int plane,
                                     int per_item) {
    int q0 = get_global_id(0) * per_item, c = get_global_id(1), n = get_global_id(2);
    if (q0 >= plane || c >= channels || n >= batch) return;
    __global float* out = rows + ((size_t)c * batch + n) * plane;
    __global const float* in = images + ((size_t)n * channels + c) * plane;
    int q_end = min(plane, q0 + per_item);
    for (int q = q0; q < q_end; ++q) out[q] = in[q];
}

// images[n, c, q] = act(rows[c, n*P + q] + bias[c]): the GEMM's channel rows back to images.
// Range (q block, c, n) as images_to_channel_rows.
__kernel void channel_rows_to_images(__global float* images, __global const float* rows, __global const float* bias,
                                     int batch, int channels, int plane, int has_bias, int act, float slope, int per_item) {
    int q0 = get_global_id(0) * per_item, c = get_global_id(1), n = get_global_id(2);
    if (q0 >= plane || c >= channels || n >= batch) return;
    float b = has_bias ? bias[c] : 0.0f;
    __global float* out = images + ((size_t)n * channels + c) * plane;
    __global const float* in = rows + ((size_t)c * batch + n) * plane;
    int q_end = min(plane, q0 + per_item);
    for (int q = q0; q < q_end; ++q) out[q] = activate(act, slope, in[q] + b);
}

// The transposed convolution's col2im in gather form: output pixel (n, c, y, x) adds, in
// (i, j) order, the one column entry with v*s - p + i = y and u*s - p + j = x, then bias and
// activation. cols is [C*kh*kw, N*H*W] over the input's H×W pixels. No atomics, fixed order.
// Only the taps with i ≡ y + p and j ≡ x + p (mod s) are visited, in increasing order. One
// work-item per `rows_per_item` output rows of one (image, channel): range (t = n*blocks + row
// block, c), whole planes on CPU devices and one row on GPUs (as im2col); along a row it
// carries (x + p) mod s and (x + p) / s from pixel to pixel instead of dividing per pixel.
__kernel void col2im(__global float* out, __global const float* cols, __global const float* bias,
                     int batch, int channels, int height, int width, int kernel_height, int kernel_width,
                     int stride, int padding, int out_height, int out_width, int has_bias, int act, float slope,
                     int rows_per_item) {
    int t = get_global_id(0), c = get_global_id(1), blocks = (out_height + rows_per_item - 1) / rows_per_item;
    if (t >= batch * blocks || c >= channels) return;
    int n = t / blocks, y0 = (t - n * blocks) * rows_per_item, y_end = min(out_height, y0 + rows_per_item);
    int plane = height * width;
    size_t columns = (size_t)batch * plane;
    __global const float* image = cols + (size_t)n * plane;
    float b = has_bias ? bias[c] : 0.0f;
    for (int y = y0; y < y_end; ++y) {
        __global float* row = out + ((size_t)n * channels + c) * out_height * out_width + (size_t)y * out_width;
        // Taps i = i0, i0 + s, … read input row v = (y + p - i) / s = v0, v0 - 1, …
        int i0 = (y + padding) % stride, v0 = (y + padding) / stride;
        int j0 = padding % stride, u0 = padding / stride;  // for x = 0
        for (int x = 0; x < out_width; ++x) {
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
            row[x] = activate(act, slope, acc + b);
            if (++j0 == stride) { j0 = 0; ++u0; }
        }
    }
}

// y[c] = scale * Σ_n Σ_q x[n, c, q], one work-item per channel, summed in a fixed order: each
// image's plane in REGISTER_WIDTH lanes (its remainder in a scalar), the lanes added as `hsum`
// does, then the planes' totals in image order. One scalar chain of adds took 1.5 ms of a conv
// step on PoCL (100,352 dependent adds for the last layer's single channel). Adding the lanes
// per plane keeps each running sum short (background pixels add the same tiny value thousands
// of times, each rounded the same way): the CPU backend's former single running sum put the
// last layer's bias gradient 3e-5 below its float64 value at a trained checkpoint, and one set
// of lanes over the whole batch, as here before, fails channelSumsStayCloseToFloat64 (2.6e-6
// of Σ|x| against 1e-6).
__kernel void reduce_channels(__global float* y, __global const float* x, int batch, int channels, int plane, float scale) {
    int c = get_global_id(0);
    if (c >= channels) return;
    int whole = plane & ~(REGISTER_WIDTH - 1);
    float total = 0.0f;
    for (int n = 0; n < batch; ++n) {
        __global const float* p = x + ((size_t)n * channels + c) * plane;
        floatR lanes = 0.0f;
        float rest = 0.0f;
        for (int q = 0; q < whole; q += REGISTER_WIDTH) lanes += vloadR(0, p + q);
        for (int q = whole; q < plane; ++q) rest += p[q];
        total += hsum(lanes) + rest;
    }
    y[c] = total * scale;
}
