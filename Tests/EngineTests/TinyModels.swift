import Engine

/// A small VAE training graph (two-layer encoder and decoder, Adam on every parameter), built
/// directly on the Engine so executor tests need no model module.
struct TinyVAE {
    let graph = Graph()
    let x: Graph.Tensor
    let loss: Graph.Tensor
    let updates: [Graph.Update]
    let parameters: [Graph.Tensor]

    init(batch: Int = 16, input: Int = 33, hidden: Int = 20, latent: Int = 3, seed: UInt64 = 1) throws {
        let g = graph
        x = try g.input("x", Shape(batch, input))
        func layer(_ name: String, _ from: Int, _ to: Int) throws -> (Graph.Tensor, Graph.Tensor) {
            let bound = 1 / Float(from).squareRoot()
            return (try g.parameter("\(name).weight", Shape(to, from), .uniform(bound: bound)),
                    try g.parameter("\(name).bias", Shape(to), .uniform(bound: bound)))
        }
        let (w1, b1) = try layer("enc", input, hidden)
        let (wm, bm) = try layer("mu", hidden, latent)
        let (wv, bv) = try layer("logvar", hidden, latent)
        let (w2, b2) = try layer("dec", latent, hidden)
        let (w3, b3) = try layer("out", hidden, input)
        let h = try g.linear(x, weight: w1, bias: b1, activation: .relu)
        let mu = try g.linear(h, weight: wm, bias: bm)
        let lv = try g.linear(h, weight: wv, bias: bv)
        let z = try g.reparameterize(mean: mu, logVariance: lv, seed: seed)
        let h2 = try g.linear(z, weight: w2, bias: b2, activation: .relu)
        let logits = try g.linear(h2, weight: w3, bias: b3)
        loss = try g.vaeLoss(data: x, decoded: logits, mean: mu, logVariance: lv, likelihood: .bernoulli).loss
        parameters = [w1, b1, wm, bm, wv, bv, w2, b2, w3, b3]
        let grads = try g.gradients(of: loss, with: parameters)
        updates = try zip(parameters, grads).map { p, dp in
            let shape = g.shape(p)
            let m = try g.state("adam.m." + g.name(p), shape), v = try g.state("adam.v." + g.name(p), shape)
            return try g.update(.adam(AdamHyperparameters(learningRate: 1e-2)), [p, dp, m, v])
        }
    }

    /// Values in [0, 1) for the input.
    static func data(batch: Int = 16, input: Int = 33) -> [Float] {
        Philox.uniforms(count: batch * input, bound: 0.5, seed: 77, stream: 1).map { $0 + 0.5 }
    }
}
