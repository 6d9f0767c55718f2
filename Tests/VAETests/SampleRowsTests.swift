import Engine
import Testing
@testable import VAE

/// `--samples L`: the L draws of z are rows of one batch, not L copies of the decoder.
@Suite struct SampleRowsTests {
    /// L draws per example give the same terms (averaged per example), loss and gradients as one
    /// draw each for the batch written out L times: the noise is keyed by element, so both see
    /// the same z.
    @Test func drawsAreRowsOfOneBatch() throws {
        for (name, backend) in try backends() {
            let (b, l) = (5, 3)
            let g = Graph()
            let model = try VariationalAutoencoder(smallModel(), in: g)
            let x = try g.input("x", Shape(b, 16)), repeated = try g.input("x.repeated", Shape(l * b, 16))
            let many = try model.negativeELBO(x, in: g, samples: l, seed: 9)
            let one = try model.negativeELBO(repeated, in: g, samples: 1, seed: 9)
            #expect(g.shape(many.terms) == Shape(b, 2))
            let manyGradients = try g.gradients(of: many.loss, with: model.parameters)
            let oneGradients = try g.gradients(of: one.loss, with: model.parameters)
            let executor = try Executor(graph: g, backend: backend, seed: 1)
            let data = syntheticDataset(count: b).images
            try executor.setValue(data, for: x)
            try executor.setValue(Array(repeatElement(data, count: l).joined()), for: repeated)
            let plan = try executor.compile(outputs: [many.terms, many.loss, one.terms, one.loss] + manyGradients + oneGradients)
            try executor.run(plan)
            let terms = try executor.value(of: many.terms, in: plan), rows = try executor.value(of: one.terms, in: plan)
            for e in 0..<b {
                for t in 0..<2 {
                    let mean = (0..<l).map { rows[2 * ($0 * b + e) + t] }.reduce(0, +) / Float(l)
                    #expect(abs(terms[2 * e + t] - mean) <= 1e-4 * max(1, abs(mean)), "\(name): example \(e) term \(t)")
                }
            }
            // The draws differ: averaging them is not averaging one draw L times.
            #expect(rows[0] != rows[2 * b], "\(name)")
            let (lossMany, lossOne) = try (executor.value(of: many.loss, in: plan)[0], executor.value(of: one.loss, in: plan)[0])
            #expect(abs(lossMany - lossOne) <= 1e-4 * abs(lossOne), "\(name)")
            for (a, c) in zip(manyGradients, oneGradients) {
                let (u, v) = try (executor.value(of: a, in: plan), executor.value(of: c, in: plan))
                let scale = v.map(abs).max() ?? 0
                #expect(zip(u, v).allSatisfy { abs($0 - $1) <= 1e-4 * max(scale, 1e-3) }, "\(name): a gradient differs")
            }
        }
    }
}
