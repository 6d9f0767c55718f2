import Engine

/// One part of a training step ([joint] or [E-step, M-step]): its compute plan and, with a
/// process group, the exchange of its gradients before its optimizer step.
final class StepPart {
    let plan: Plan
    let exchange: GradientExchange?

    init(plan: Plan, exchange: GradientExchange?) {
        self.plan = plan
        self.exchange = exchange
    }
}

/// The gradients a compute plan leaves as outputs, the inputs the optimizer step reads the
/// group's mean from, and that step.
struct GradientExchange {
    let gradients: [Graph.Tensor]
    let received: [Graph.Tensor]
    let update: Plan
}

extension Trainer {
    /// Sums this part's gradients over the group in one flat buffer, scales by 1/N and runs the
    /// optimizer step on the result. A stop request rides along as one more element, so every
    /// process stops after the same step; returns whether any process asked to stop.
    func exchange(_ part: StepPart, context: RunContext, stop: Bool) throws -> Bool {
        guard let group, let exchange = part.exchange else { return stop }
        var flat: [Float] = []
        for (i, t) in exchange.gradients.enumerated() {
            let values = try executor.value(of: t, in: part.plan)
            if i == 0 { flat.reserveCapacity(values.count * exchange.gradients.count + 1) }
            flat += values
        }
        flat.append(stop ? 1 : 0)
        try group.sum(&flat, what: "the gradient sum of step \(context.step + 1)")
        let scale = 1 / Float(group.size)
        var offset = 0
        for t in exchange.received {
            let n = graph.spec(t).count
            try executor.setValue(flat[offset..<offset + n].map { $0 * scale }, for: t)
            offset += n
        }
        try executor.run(exchange.update, context: context)
        return flat[offset] > 0
    }

    /// The epoch's mean training loss so far, over every process's examples.
    func meanLoss(steps: Int) throws -> Float {
        let local = try executor.value(of: lossSum)[0]
        guard let group else { return local / Float(max(steps, 1)) }
        var total = [Double(local)]
        try group.sum(&total, what: "the loss sum of epoch \(epoch + 1)")
        return Float(total[0] / Double(max(steps, 1) * group.size))
    }

    /// Stops the run when some process's parameters are no longer bit-identical to rank 0's.
    func checkReplicas() throws {
        guard let group else { return }
        let mine = parameterHash(try model.parameters.map { try executor.value(of: $0) })
        let all = try group.allGather(mine, what: "the parameter hashes of epoch \(epoch + 1)")
        let differing = all.indices.filter { all[$0] != all[0] }
        if !differing.isEmpty { throw DataParallelError.replicasDiverged(epoch: epoch + 1, ranks: differing) }
    }
}
