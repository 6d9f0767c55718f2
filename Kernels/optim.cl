// Optimizer updates in place: twins of CPUBackend/CPUOptim.swift. One work-item per element.

// c1 = 1/(1 − β₁ᵗ), c2 = 1/(1 − β₂ᵗ), computed on the host in float64.
__kernel void adam(__global float* p, __global const float* g, __global float* m, __global float* v, int n,
                   float lr, float beta1, float beta2, float epsilon, float c1, float c2) {
    int i = get_global_id(0);
    if (i >= n) return;
    float gi = g[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * (mi * c1) / (sqrt(vi * c2) + epsilon);
}

__kernel void sgd(__global float* p, __global const float* g, int n, float lr) {
    int i = get_global_id(0);
    if (i < n) p[i] -= lr * g[i];
}
