import Engine

/// Launcher of Kernels/gemm.cl, the GPU structure's product (`gemm` in MatmulLaunchers.swift
/// picks it when the configuration has `gemmTiles`).
extension OpenCLBackend {
    /// C[M, N] = act(op(A)·op(B) + bias), local-memory tiles (the GPU structure): any shape and transposes.
    func gemm_tiled(c: CLBuffer, a: CLBuffer, b: CLBuffer, bias: CLBuffer?, m: Int, n: Int, k: Int,
                    transposeA: Bool, transposeB: Bool, activation: Activation, tiles t: GEMMTiles) throws(OpenCLError) {
        let groups = [(n + t.tn - 1) / t.tn, (m + t.tm - 1) / t.tm]
        try enqueue(.gemm_tiled, [.buffer(c), .buffer(a), .buffer(b), .buffer(bias ?? a)] + (try ints("gemm_tiled", [m, n, k]))
                    + [.int(transposeA ? 1 : 0), .int(transposeB ? 1 : 0), .int(bias == nil ? 0 : 1),
                       .int(activation.kernelCode), .float(activation.kernelSlope)],
                    global: [groups[0] * t.workGroup[0], groups[1] * t.workGroup[1]], local: t.workGroup)
    }
}
