// Element-wise ops, reductions and gather: twins of CPUBackend/CPUElementwise.swift.
// One work-item per element unless said otherwise; global sizes are rounded up, so each
// kernel guards its range.

// One kernel per activation: with the code a constant, `activate` folds to one formula and
// PoCL vectorizes across work-items (a run-time code made these 7-10x slower on PoCL).
// y = act(x):
#define ACTIVATION(ACT) int i = get_global_id(0); if (i < n) y[i] = activate(ACT, slope, x[i]);
__kernel void activation_identity(__global float* y, __global const float* x, int n, float slope) { ACTIVATION(ACTIVATION_IDENTITY) }
__kernel void activation_relu(__global float* y, __global const float* x, int n, float slope) { ACTIVATION(ACTIVATION_RELU) }
__kernel void activation_leaky_relu(__global float* y, __global const float* x, int n, float slope) { ACTIVATION(ACTIVATION_LEAKY_RELU) }
__kernel void activation_sigmoid(__global float* y, __global const float* x, int n, float slope) { ACTIVATION(ACTIVATION_SIGMOID) }
__kernel void activation_tanh(__global float* y, __global const float* x, int n, float slope) { ACTIVATION(ACTIVATION_TANH) }
__kernel void activation_softplus(__global float* y, __global const float* x, int n, float slope) { ACTIVATION(ACTIVATION_SOFTPLUS) }

// dx = dy ⊙ act'(x), written through the forward output y:
#define ACTIVATION_GRADIENT(ACT) int i = get_global_id(0); if (i < n) dx[i] = dy[i] * activation_derivative(ACT, slope, y[i]);
__kernel void activation_gradient_identity(__global float* dx, __global const float* y, __global const float* dy, int n, float slope) { ACTIVATION_GRADIENT(ACTIVATION_IDENTITY) }
__kernel void activation_gradient_relu(__global float* dx, __global const float* y, __global const float* dy, int n, float slope) { ACTIVATION_GRADIENT(ACTIVATION_RELU) }
__kernel void activation_gradient_leaky_relu(__global float* dx, __global const float* y, __global const float* dy, int n, float slope) { ACTIVATION_GRADIENT(ACTIVATION_LEAKY_RELU) }
__kernel void activation_gradient_sigmoid(__global float* dx, __global const float* y, __global const float* dy, int n, float slope) { ACTIVATION_GRADIENT(ACTIVATION_SIGMOID) }
__kernel void activation_gradient_tanh(__global float* dx, __global const float* y, __global const float* dy, int n, float slope) { ACTIVATION_GRADIENT(ACTIVATION_TANH) }
__kernel void activation_gradient_softplus(__global float* dx, __global const float* y, __global const float* dy, int n, float slope) { ACTIVATION_GRADIENT(ACTIVATION_SOFTPLUS) }

__kernel void add(__global float* c, __global const float* a, __global const float* b, int n) {
    int i = get_global_id(0);
    if (i < n) c[i] = a[i] + b[i];
}

// y[r, c] = scale * x[c] for the n / width rows r of y (width 1: a scalar). Range (column
// block, row block), `columns` × `rows` values per work-item: on CPU devices whole rows in
// vectors, about 4096 values per work-item (one value per work-item, with a division for
// i % width, was 17% of an importance-sampling run on PoCL); on GPUs one value.
__kernel void broadcast(__global float* y, __global const float* x, int n, int width, float scale, int columns, int rows) {
    int c0 = get_global_id(0) * columns, r0 = get_global_id(1) * rows, total_rows = n / width;
    if (c0 >= width || r0 >= total_rows) return;
    int c_end = min(width, c0 + columns), r_end = min(total_rows, r0 + rows);
    for (int r = r0; r < r_end; ++r) {
        __global float* out = y + (size_t)r * width;
        int c = c0;
        for (; c + REGISTER_WIDTH <= c_end; c += REGISTER_WIDTH) vstoreR(scale * vloadR(0, x + c), 0, out + c);
        for (; c < c_end; ++c) out[c] = scale * x[c];
    }
}

// Column totals of an m×n matrix, each summed top to bottom: one work-item per column, so
// neighbouring work-items read neighbouring addresses and the order is fixed.
__kernel void reduce_rows(__global float* y, __global const float* x, int m, int n, float scale) {
    // REGISTER_WIDTH neighbouring columns per work-item in one vector (PoCL does not vectorize
    // across work-items that loop); the last columns one by one. Rows in order, as before.
    int j0 = get_global_id(0) * REGISTER_WIDTH;
    if (j0 >= n) return;
    if (j0 + REGISTER_WIDTH <= n) {
        floatR acc = 0.0f;
        for (int i = 0; i < m; ++i) acc += vloadR(0, x + (size_t)i * n + j0);
        vstoreR(acc * scale, 0, y + j0);
        return;
    }
    for (int j = j0; j < n; ++j) {
        float acc = 0.0f;
        for (int i = 0; i < m; ++i) acc += x[(size_t)i * n + j];
        y[j] = acc * scale;
    }
}

// First stage of a full reduction: work-item p sums chunk p of `chunk` elements in order.
__kernel void reduce_partial(__global float* partial, __global const float* x, int n, int chunk, int parts) {
    int p = get_global_id(0);
    if (p >= parts) return;
    int end = min(n, (p + 1) * chunk);
    float acc = 0.0f;
    for (int i = p * chunk; i < end; ++i) acc += x[i];
    partial[p] = acc;
}

// Second stage: one work-item adds the partial sums in order.
__kernel void reduce_final(__global float* y, __global const float* partial, int parts, float scale) {
    // Launched as one work-item (global and local size 1), so no guard: a branch before reading
    // the arguments made Mesa's rusticl warn that it treats them as uniform.
    float acc = 0.0f;
    for (int p = 0; p < parts; ++p) acc += partial[p];
    y[0] = acc * scale;
}

// gather, gather_palette: row r of the output is row indices[cursor + r] of the table. Range
// (column block, row): the row is the same across a work-group, so no work-item divides (one
// work-item per element over a flat range divided by the width, which PoCL cannot vectorize);
// `per_item` columns per work-item: whole rows on CPU devices, where a work-item per value cost
// more than the copy, one column on GPUs. Indices outside the table give a row of NaN (the
// host validates index lists it uploads).
// gather_source: this work-item's columns [*c0, *end) of its output row and the table row to
// copy them from, or -1 when there is nothing to copy (its columns NaN-filled for an index
// outside the table).
__attribute__((always_inline)) inline int gather_source(__global float* y, __global const int* indices, int rows, int width,
                                                        int table_rows, int cursor, int per_item, int* c0, int* end) {
    int r = get_global_id(1);
    *c0 = get_global_id(0) * per_item;
    if (*c0 >= width || r >= rows) return -1;
    int index = indices[cursor + r];
    *end = min(width, *c0 + per_item);
    if (index < 0 || index >= table_rows) {
        for (int c = *c0; c < *end; ++c) y[(size_t)r * width + c] = NAN;
        return -1;
    }
    return index;
}

__kernel void gather(__global float* y, __global const float* table, __global const int* indices,
                          int rows, int width, int table_rows, int cursor, int per_item) {
    int c0, end, index = gather_source(y, indices, rows, width, table_rows, cursor, per_item, &c0, &end);
    if (index < 0) return;
    __global float* out = y + (size_t)get_global_id(1) * width;
    __global const float* in = table + (size_t)index * width;
    int c = c0;
    for (; c + REGISTER_WIDTH <= end; c += REGISTER_WIDTH) vstoreR(vloadR(0, in + c), 0, out + c);
    for (; c < end; ++c) out[c] = in[c];
}

// gather from a table of bytes, byte b standing for palette[b] (a data set of at most 256
// values held in a quarter of the memory); the same range and work split as gather.
__kernel void gather_palette(__global float* y, __global const uchar* table, __global const float* palette, __global const int* indices,
                             int rows, int width, int table_rows, int cursor, int per_item) {
    int c0, end, index = gather_source(y, indices, rows, width, table_rows, cursor, per_item, &c0, &end);
    if (index < 0) return;
    __global float* out = y + (size_t)get_global_id(1) * width;
    __global const uchar* in = table + (size_t)index * width;
    int c = c0;
    for (; c + 16 <= end; c += 16) {  // 16 bytes per load, 16 floats per store
        uchar16 b = vload16(0, in + c);
        vstore16((float16)(palette[b.s0], palette[b.s1], palette[b.s2], palette[b.s3], palette[b.s4], palette[b.s5], palette[b.s6],
                           palette[b.s7], palette[b.s8], palette[b.s9], palette[b.sa], palette[b.sb], palette[b.sc], palette[b.sd],
                           palette[b.se], palette[b.sf]), 0, out + c);
    }
    for (; c < end; ++c) out[c] = palette[in[c]];
}

// log Σ exp over each column (one work-item per column), shifted by the column's maximum.
__kernel void logsumexp_rows(__global float* y, __global const float* x, int m, int n) {
    int j = get_global_id(0);
    if (j >= n) return;
    float top = -INFINITY;
    for (int i = 0; i < m; ++i) top = fmax(top, x[(size_t)i * n + j]);
    if (isinf(top)) { y[j] = top; return; }
    float sum = 0.0f;
    for (int i = 0; i < m; ++i) sum += exp(x[(size_t)i * n + j] - top);
    y[j] = top + log(sum);
}

// First stage of a full log-sum-exp: chunk p's maximum and Σ exp(x − maximum).
__kernel void logsumexp_partial(__global float* partial, __global const float* x, int n, int chunk, int parts) {
    int p = get_global_id(0);
    if (p >= parts) return;
    int end = min(n, (p + 1) * chunk);
    float top = -INFINITY;
    for (int i = p * chunk; i < end; ++i) top = fmax(top, x[i]);
    float sum = 0.0f;
    if (!isinf(top)) for (int i = p * chunk; i < end; ++i) sum += exp(x[i] - top);
    partial[2 * p] = top;
    partial[2 * p + 1] = sum;
}

// Second stage: rescale every chunk's sum to the overall maximum and add them in order.
__kernel void logsumexp_final(__global float* y, __global const float* partial, int parts) {
    // Launched as one work-item (global and local size 1), so no guard: a branch before reading
    // the arguments made Mesa's rusticl warn that it treats them as uniform.
    float top = -INFINITY;
    for (int p = 0; p < parts; ++p) top = fmax(top, partial[2 * p]);
    if (isinf(top)) { y[0] = top; return; }
    float sum = 0.0f;
    for (int p = 0; p < parts; ++p) sum += partial[2 * p + 1] * exp(partial[2 * p] - top);
    y[0] = top + log(sum);
}
