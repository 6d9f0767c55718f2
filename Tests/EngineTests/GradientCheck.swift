import CPUBackend
import Engine
import Testing

/// Finite-difference check of reverse-mode gradients on the CPU backend.
///
/// The builder makes a graph and returns an output y and the tensors to differentiate with
/// respect to (parameters), plus optional explicit values for any persistent tensor. The check
/// compares the analytic vector-Jacobian product cᵀ∂y/∂p (c a fixed random cotangent) with
/// central differences of f(p) = Σ c ⊙ y(p), on up to `probes` elements of each parameter.
struct GradientCheck {
    struct Setup {
        var output: Graph.Tensor
        var wrt: [Graph.Tensor]
        var values: [Graph.Tensor: [Float]] = [:]
    }

    var step: Float = 2e-3
    var probes = 12
    var absoluteTolerance: Double = 5e-3
    var relativeTolerance: Double = 1e-2
    var context = RunContext(step: 3)

    /// Returns the worst scaled error; fails the current test for each element outside tolerance.
    @discardableResult
    func run(_ label: String, sourceLocation: SourceLocation = #_sourceLocation, _ build: (Graph) throws -> Setup) throws -> Double {
        let graph = Graph()
        let setup = try build(graph)
        let outShape = graph.shape(setup.output)
        let cotangent = Philox.uniforms(count: outShape.count, bound: 1, seed: 99, stream: 0)
        let seed = try graph.constant(cotangent, outShape)
        let grads = try graph.gradients(of: setup.output, seed: seed, with: setup.wrt)
        let executor = try Executor(graph: graph, backend: CPUBackend(), seed: 5)
        for (t, v) in setup.values { try executor.setValue(v, for: t) }
        let backward = try executor.compile(outputs: grads)
        let forward = try executor.compile(outputs: [setup.output])
        try executor.run(backward, context: context)
        let analytic = try grads.map { try executor.value(of: $0, in: backward) }

        func objective() throws -> Double {
            try executor.run(forward, context: context)
            let y = try executor.value(of: setup.output, in: forward)
            return zip(y, cotangent).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var worst = 0.0
        for (p, tensor) in setup.wrt.enumerated() {
            let original = try executor.value(of: tensor)
            let n = original.count
            let picks = Set((0..<min(probes, n)).map { $0 * n / min(probes, n) } + [n - 1])
            for i in picks.sorted() {
                var v = original
                v[i] = original[i] + step
                try executor.setValue(v, for: tensor)
                let plus = try objective()
                v[i] = original[i] - step
                try executor.setValue(v, for: tensor)
                let minus = try objective()
                try executor.setValue(original, for: tensor)
                let numeric = (plus - minus) / Double(2 * step)
                let exact = Double(analytic[p][i])
                let error = abs(numeric - exact)
                let allowed = absoluteTolerance + relativeTolerance * max(abs(numeric), abs(exact))
                worst = max(worst, error / allowed)
                #expect(error <= allowed,
                        "\(label): ∂/∂\(graph.name(tensor))[\(i)] analytic \(exact) vs finite difference \(numeric)",
                        sourceLocation: sourceLocation)
            }
        }
        return worst
    }
}
