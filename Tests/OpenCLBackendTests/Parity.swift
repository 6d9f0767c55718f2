import CPUBackend
import Engine
@testable import OpenCLBackend
import Testing
import VAEBench

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
        KernelCheck.values(count, stream: stream, bound: bound, unit: unit)
    }

    func outputs(on backend: any Backend, _ op: Op, _ inputs: [(TensorSpec, [Float])], context: RunContext) throws -> [[Float]] {
        try KernelCheck.outputs(on: backend, op, inputs, context)
    }

    /// Largest |OpenCL − CPU| over (1 + largest |CPU|) across all outputs; expects ≤ tolerance.
    @discardableResult
    func check(_ op: Op, _ inputs: [(TensorSpec, [Float])], context: RunContext = RunContext(step: 12),
               tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) throws -> Float {
        let worst = KernelCheck.relativeDifference(try outputs(on: cpu, op, inputs, context: context),
                                                    try outputs(on: gpu, op, inputs, context: context))
        #expect(worst <= tolerance, "\(op.name) on \(inputs.map(\.0)): relative difference \(worst)", sourceLocation: sourceLocation)
        return worst
    }
}
