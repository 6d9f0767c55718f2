extension Graph {
    /// Appends the backward graph of `loss` and returns ∂loss/∂p for each of `parameters`
    /// (a parameter the loss does not depend on is an error).
    ///
    /// Reverse-mode: nodes are visited from the loss back, each applying its op's
    /// vector-Jacobian rule; gradients reaching a tensor along several paths are added.
    /// - Parameter seed: the cotangent of `loss` (its shape); nil means 1 for a scalar loss, so the
    ///   result is the vector-Jacobian product seedᵀ·∂loss/∂p.
    public func gradients(of loss: Tensor, seed: Tensor? = nil, with parameters: [Tensor]) throws(GraphError) -> [Tensor] {
        if let seed, shape(seed) != shape(loss) {
            throw .shapeMismatch(op: "gradients", detail: "seed \(shape(seed)) must have the shape of the output \(shape(loss))")
        }
        guard seed != nil || shape(loss) == .scalar else {
            throw .shapeMismatch(op: "gradients", detail: "the loss must be a scalar [1], got \(shape(loss))")
        }
        // Tensors that depend on some parameter: only they need gradients.
        let wanted = Set(parameters.map(\.id))
        var live = wanted
        for node in nodes where node.inputs.contains(where: { live.contains($0.id) }) {
            for o in node.outputs { live.insert(o.id) }
        }
        guard let lastNode = tensors[loss.id].producer else {
            throw .notDifferentiable(op: "gradients", reason: "the loss is not computed by an op")
        }
        let start: Tensor
        if let seed { start = seed } else { start = try constant([1], .scalar) }
        var grads: [Int: Tensor] = [loss.id: start]
        for index in stride(from: lastNode, through: 0, by: -1) {
            let node = nodes[index]
            let outputGrads = node.outputs.map { grads[$0.id] }
            guard outputGrads.contains(where: { $0 != nil }) else { continue }
            let needs = node.inputs.map { live.contains($0.id) }
            guard needs.contains(true) else { continue }
            let inputGrads = try vectorJacobian(node, outputGrads, needs)
            for (i, g) in inputGrads.enumerated() {
                guard needs[i], let g else { continue }
                let id = node.inputs[i].id
                grads[id] = try grads[id].map { (existing) throws(GraphError) in try add(existing, g) } ?? g
            }
        }
        return try parameters.map { (p) throws(GraphError) in
            guard let g = grads[p.id] else {
                throw .notDifferentiable(op: "gradients", reason: "the loss does not depend on \(name(p))")
            }
            return g
        }
    }

    /// The vector-Jacobian rule of one node: input gradients from output gradients. `needs[i]`
    /// says whether input i wants one (others may be nil).
    private func vectorJacobian(_ node: Node, _ dOut: [Tensor?], _ needs: [Bool]) throws(GraphError) -> [Tensor?] {
        let x = node.inputs
        let op = node.op
        func refuse(_ reason: String) -> GraphError { .notDifferentiable(op: op.name, reason: reason) }
        switch op {
        case .linear(let act):
            guard let dy = dOut[0] else { return [nil, nil, nil] }
            let g = act == .identity ? dy : try single(.activationGradient(act), [node.outputs[0], dy])
            return [
                needs[0] ? try matmul(g, x[1]) : nil,
                needs[1] ? try matmul(g, x[0], transposeA: true) : nil,
                needs[2] ? try sum(g, over: .rows) : nil,
            ]
        case .matmul(let ta, let tb):
            guard let dc = dOut[0] else { return [nil, nil] }
            let da = !needs[0] ? nil
                : ta ? try matmul(x[1], dc, transposeA: tb, transposeB: true)
                : try matmul(dc, x[1], transposeB: !tb)
            let db = !needs[1] ? nil
                : tb ? try matmul(dc, x[0], transposeA: true, transposeB: ta)
                : try matmul(x[0], dc, transposeA: !ta)
            return [da, db]
        case .activation(let act):
            guard let dy = dOut[0] else { return [nil] }
            return [try single(.activationGradient(act), [node.outputs[0], dy])]
        case .add:
            return [dOut[0], dOut[0]]
        case .reshape:
            guard let dy = dOut[0] else { return [nil] }
            return [try reshape(dy, shape(x[0]))]
        case .conv2d(let geometry, let act, let bias):
            guard let dy = dOut[0] else { return x.map { _ in nil } }
            let g = act == .identity ? dy : try single(.activationGradient(act), [node.outputs[0], dy])
            let input = ImageShape(shape(x[0])), kernel = ImageShape(shape(x[1]))
            let back = geometry.restoring(height: input.height, width: input.width, kernelHeight: kernel.height, kernelWidth: kernel.width)
            return [
                needs[0] ? try single(.convTranspose2d(back, activation: .identity, bias: false), [g, x[1]]) : nil,
                needs[1] ? try single(.conv2dWeightGradient(geometry, kernelHeight: kernel.height, kernelWidth: kernel.width), [x[0], g]) : nil,
            ] + (bias ? [needs[2] ? try sum(g, over: .channels) : nil] : [])
        case .convTranspose2d(let geometry, let act, let bias):
            guard let dy = dOut[0] else { return x.map { _ in nil } }
            let g = act == .identity ? dy : try single(.activationGradient(act), [node.outputs[0], dy])
            let kernel = ImageShape(shape(x[1]))
            let forward = geometry.withoutOutputPadding
            return [
                needs[0] ? try single(.conv2d(forward, activation: .identity, bias: false), [g, x[1]]) : nil,
                needs[1] ? try single(.conv2dWeightGradient(forward, kernelHeight: kernel.height, kernelWidth: kernel.width), [g, x[0]]) : nil,
            ] + (bias ? [needs[2] ? try sum(g, over: .channels) : nil] : [])
        case .reduce(let r, let axis):
            guard let dy = dOut[0] else { return [nil] }
            if r == .logSumExp { throw refuse("log-sum-exp is for evaluation; its gradient is not implemented") }
            if axis == .channels { throw refuse("the per-channel sum is a bias gradient; its own gradient is not implemented") }
            let s = shape(x[0])
            let n = axis == .all ? s.count : s.rows
            return [try single(.broadcast(s, scale: r == .mean ? 1 / Float(n) : 1), [dy])]
        case .broadcast(let target, let scale):
            guard let dy = dOut[0] else { return [nil] }
            let from = shape(x[0])
            if from == target { return [try single(.broadcast(from, scale: scale), [dy])] }
            guard from == .scalar || target.rank == 2 else {
                throw refuse("the gradient of a row broadcast is defined for matrices, not \(target)")
            }
            let summed = try sum(dy, over: from == .scalar ? .all : .rows)
            return [scale == 1 && shape(summed) == from ? summed : try single(.broadcast(from, scale: scale), [summed])]
        case .reparameterize(let seed, let sample):
            guard let dz = dOut[0] else { return [nil, nil] }
            return [dz, needs[1] ? try single(.reparameterizeGradient(seed: seed, sample: sample), [x[1], dz]) : nil]
        case .vaeLoss(let objective):
            if dOut[0] != nil { throw refuse("only its mean output (index 1) is differentiable") }
            guard let dl = dOut[1] else { return x.map { _ in nil } }
            if needs[0] { throw refuse("the data x must not depend on a parameter") }
            if let vi = objective.varianceIndex, needs[vi] { throw refuse("the given per-feature variances get no gradient") }
            return [nil] + (try apply(.vaeLossGradient(objective), x + [dl])) + (objective.varianceIndex == nil ? [] : [nil])
        case .gather, .gatherPalette:
            throw refuse("gather reads data rows; gradients into its table are not supported")
        case .activationGradient, .reparameterizeGradient, .vaeLossGradient, .vaeLossWithGradient, .conv2dWeightGradient,
             .productActivationGradient:
            throw refuse("second derivatives are not supported")
        case .randomNormal:
            return []
        case .adam, .adamSummingRows, .adamTransposedProduct, .sgd:
            throw refuse("an optimizer update has no gradient")
        }
    }
}
