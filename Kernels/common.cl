// Shared by every kernel file (the program is built from all of Kernels/, this file first).
// Activation codes match OpenCLBackend's `Activation.code`:
// 0 identity, 1 relu, 2 leaky relu (slope), 3 sigmoid, 4 tanh, 5 softplus.

inline float activate(int act, float slope, float x) {
    switch (act) {
    case 1: return fmax(x, 0.0f);
    case 2: return x > 0.0f ? x : slope * x;
    case 3: return 1.0f / (1.0f + exp(-x));
    case 4: return tanh(x);
    case 5: return fmax(x, 0.0f) + log1p(exp(-fabs(x)));
    default: return x;
    }
}

// act'(x) written through the output y = act(x) (see CPUBackend's activationDerivative).
inline float activation_derivative(int act, float slope, float y) {
    switch (act) {
    case 1: return y > 0.0f ? 1.0f : 0.0f;
    case 2: return y > 0.0f ? 1.0f : slope;
    case 3: return y * (1.0f - y);
    case 4: return 1.0f - y * y;
    case 5: return -expm1(-y);
    default: return 1.0f;
    }
}
