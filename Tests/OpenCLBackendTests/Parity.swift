import CPUBackend
import Engine
@testable import OpenCLBackend
import Testing

/// The OpenCL backend under test. A missing OpenCL platform fails the test (it never skips):
/// CI installs PoCL, so no platform means a broken set-up.
func openCL() throws -> OpenCLBackend {
    do {
        return try OpenCLBackend()
    } catch {
        Issue.record("OpenCL is required for this test: \(error)")
        throw error
    }
}

/// Every OpenCL device present (PoCL; with RUSTICL_ENABLE=swrast, as CI sets it, also Mesa's
/// rusticl on llvmpipe). None fails the test.
func openCLDevices() throws -> [OpenCLDevice] {
    do {
        let devices = try OpenCLDevice.all()
        guard !devices.isEmpty else { throw OpenCLError.noPlatform }
        return devices
    } catch {
        Issue.record("OpenCL is required for this test: \(error)")
        throw error
    }
}

/// Runs one op on the CPU and OpenCL backends with the same inputs and compares every output
/// (and every input the op updates in place).
struct Parity {
    let cpu = CPUBackend()
    let gpu: OpenCLBackend

    init() throws { gpu = try openCL() }

    init(backend: OpenCLBackend) { gpu = backend }

    /// The OpenCL backend on every device present, each with its own kernel configuration, or
    /// with `tiles` (the GPU configuration on every device).
    static func everyDevice(tiles: TileConfiguration? = nil) throws -> [Parity] {
        try openCLDevices().map { Parity(backend: try OpenCLBackend(device: $0, tiles: tiles ?? TileConfiguration(for: $0))) }
    }

    /// Deterministic inputs in (−bound, bound), or in [0, 1) where `unit` is set.
    static func values(_ count: Int, stream: UInt32, bound: Float = 1, unit: Bool = false) -> [Float] {
        let u = Philox.uniforms(count: count, bound: unit ? 0.5 : bound, seed: 2024, stream: stream)
        return unit ? u.map { $0 + 0.5 } : u
    }

    func outputs(on backend: any Backend, _ op: Op, _ inputs: [(TensorSpec, [Float])], context: RunContext) throws -> [[Float]] {
        let specs = try op.outputSpecs(for: inputs.map(\.0))
        let ins = try inputs.map { spec, values in
            TensorBuffer(spec.dtype == .int32 ? try backend.makeBuffer(values.map { Int32($0) }) : try backend.makeBuffer(values), spec)
        }
        let outs = try specs.map { TensorBuffer(try backend.allocate(bytes: $0.byteCount), $0) }
        try backend.execute(op, inputs: ins, outputs: outs, context: context)
        let written = outs + op.mutatedInputs.map { ins[$0] }
        return try written.map { try backend.download($0.buffer, count: $0.spec.count) }
    }

    /// Largest |OpenCL − CPU| over (1 + largest |CPU|) across all outputs; expects ≤ tolerance.
    @discardableResult
    func check(_ op: Op, _ inputs: [(TensorSpec, [Float])], context: RunContext = RunContext(step: 12),
               tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) throws -> Float {
        let expected = try outputs(on: cpu, op, inputs, context: context)
        let actual = try outputs(on: gpu, op, inputs, context: context)
        var worst: Float = 0
        for (e, a) in zip(expected, actual) {
            let scale = 1 + (e.map(abs).max() ?? 0)
            let diff = zip(e, a).map { abs($0 - $1) }.max() ?? 0
            worst = max(worst, diff.isNaN ? .infinity : diff / scale)
        }
        #expect(worst <= tolerance, "\(op.name) on \(inputs.map(\.0)): relative difference \(worst)", sourceLocation: sourceLocation)
        return worst
    }
}
