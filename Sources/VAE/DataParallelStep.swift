import Dispatch
import Engine

/// One part of a training step ([joint] or [E-step, M-step]): its compute plan and, with a
/// process group, the exchange of its gradients before its optimizer step.
final class StepPart {
    let plan: Plan
    let exchange: GradientExchange?
    /// The host buffer of the exchange, kept from step to step.
    var flat: [Float] = []

    init(plan: Plan, exchange: GradientExchange?) {
        self.plan = plan
        self.exchange = exchange
    }
}

/// Seconds spent exchanging gradients since the counters were reset: in the sum over the group
/// alone, and in all (reading the gradients from the device, the sum, writing the mean back).
public struct ExchangeTime: Sendable {
    public var sum: Double = 0
    public var total: Double = 0
    /// Floats of gradients per exchange.
    public var floats = 0

    public init() {}
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
        try executor.backend.synchronize()  // so the time below is the exchange's, not the step's
        let started = DispatchTime.now().uptimeNanoseconds
        let counts = exchange.gradients.map { graph.spec($0).count }
        let total = counts.reduce(0, +)
        // One flat buffer: the gradients, the stop flag, zeros to a multiple of the group's size.
        let length = (total + 1 + group.size - 1) / group.size * group.size
        if part.flat.count != length { part.flat = [Float](repeating: 0, count: length) }
        var summing: UInt64 = 0, summed: UInt64 = 0
        let stopAgreed = try part.flat.withUnsafeMutableBufferPointer { flat in
            var offset = 0
            for (t, n) in zip(exchange.gradients, counts) {
                try executor.read(t, in: part.plan, into: UnsafeMutableBufferPointer(rebasing: flat[offset..<offset + n]))
                offset += n
            }
            flat[total] = stop ? 1 : 0
            summing = DispatchTime.now().uptimeNanoseconds
            try group.sum(flat, scale: 1 / Float(group.size), what: "the gradient sum of step \(context.step + 1)")
            summed = DispatchTime.now().uptimeNanoseconds
            offset = 0
            for (t, n) in zip(exchange.received, counts) {
                try executor.write(UnsafeBufferPointer(rebasing: flat[offset..<offset + n]), to: t)
                offset += n
            }
            return flat[total] > 0
        }
        exchangeTime.sum += Double(summed - summing) / 1e9
        exchangeTime.total += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        exchangeTime.floats = total
        try executor.run(exchange.update, context: context)
        return stopAgreed
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
