import CPUBackend
import Engine
import Foundation
import OpenCLBackend
import VAE

/// The measurements of `vae bench` as rows of a table, each figure beside its reference from
/// the same run (OpenBLAS for GEMM, the FMA-loop peak for the training step).
public struct BenchReport {
    public var lines: [String] = []

    public init() {}

    mutating func add(_ line: String) { lines.append(line) }

    /// Runs every measurement on `backend`; `peakGFLOPS` nil measures it with an FMA loop.
    public static func run(on backend: any Backend, peakGFLOPS: Double? = nil, quick: Bool = false,
                           log: (String) -> Void = { _ in }) throws -> BenchReport {
        var r = BenchReport()
        func say(_ s: String) { r.add(s); log(s) }
        let reference = CPUBackend(splitsProducts: false)  // OpenBLAS as it comes, threads and all
        let peak = peakGFLOPS ?? measurePeakGFLOPS()
        say("device: \(backend.deviceDescription)" + (backend is CPUBackend ? " (vector loops: \(CPUBackend.vectorInstructionSet))" : ""))
        say(String(format: "peak: %.0f GFLOP/s (%@)", peak, peakGFLOPS == nil ? "FMA loop, \(peakInstructionSet), all cores" : "given"))
        say("")
        say("GEMM                      GFLOP/s   OpenBLAS   ratio")
        let shapes = quick ? Array(GEMMShape.vae.prefix(3)) : GEMMShape.vae + [GEMMShape.large]
        for s in shapes {
            let op = Op.matmul(transposeA: s.transposeA, transposeB: s.transposeB)
            let count = s.flops > 1e9 ? 3 : 20
            let mine = try OpBench(op, inputs: s.inputSpecs, on: backend).time(count: count)
            let blas = try OpBench(op, inputs: s.inputSpecs, on: reference).time(count: count)
            afterOpenBLASReference()
            let (g, b) = (s.flops / mine.median / 1e9, s.flops / blas.median / 1e9)
            say(String(format: "%-24@ %8.1f   %8.1f   %5.2f", s.description, g, b, g / b))
        }
        say("")
        let x = TensorSpec(Shape(128, 784)), w = TensorSpec(Shape(400, 784)), bias = TensorSpec(Shape(400)), h = TensorSpec(Shape(128, 400))
        let fused = try OpBench(.linear(activation: .relu), inputs: [x, w, bias], on: backend).time()
        let separate = try [OpBench(.matmul(transposeA: false, transposeB: true), inputs: [x, w], on: backend),
                            OpBench(.broadcast(Shape(128, 400), scale: 1), inputs: [bias], on: backend),
                            OpBench(.add, inputs: [h, h], on: backend),
                            OpBench(.activation(.relu), inputs: [h], on: backend)].map { try $0.time().median }.reduce(0, +)
        say(String(format: "linear 128×784→400 relu: fused %.1f µs, matmul + bias + activation %.1f µs (%.2f×)",
                    fused.median * 1e6, separate * 1e6, separate / fused.median))
        say("")
        say("memory-bound ops             GB/s")
        let big = TensorSpec(Shape(128, 784)), latent = TensorSpec(Shape(128, 20)), params = TensorSpec(Shape(400, 784))
        let memoryOps: [(String, Op, [TensorSpec])] = [
            ("activation relu 128×784", .activation(.relu), [big]),
            ("reparameterize 128×20", .reparameterize(seed: 1, sample: 0), [latent, latent]),
            ("vaeLoss 128×784", .vaeLoss(VAEObjective(likelihood: .bernoulli)), [big, big, latent, latent]),
            ("vaeLoss gaussian 128×784", .vaeLoss(VAEObjective(likelihood: .gaussian(sigma: 1))), [big, big, latent, latent]),
            ("vaeLossGradient 128×784", .vaeLossGradient(VAEObjective(likelihood: .bernoulli)), [big, big, latent, latent, TensorSpec(.scalar)]),
            ("adam 400×784", .adam(AdamHyperparameters()), [params, params, params, params]),
        ]
        for (name, op, specs) in memoryOps {
            let b = try OpBench(op, inputs: specs, on: backend)
            let t = try b.time()
            say(String(format: "%-28@ %6.1f   (%.1f µs)", name, Double(b.bytes) / t.median / 1e9, t.median * 1e6))
        }
        say("")
        let step = try measureTrainingStep(on: backend, steps: quick ? 10 : 40)
        let flops = trainingFLOPsPerSample()
        let samples = 128 / step.median
        say(String(format: "training step 784-400-20, batch 128: %.2f ms, %.0f samples/s, %.1f GFLOP/s = %.0f%% of peak (%.2f MFLOP per sample)",
                    step.median * 1e3, samples, samples * flops / 1e9, 100 * samples * flops / 1e9 / peak, flops / 1e6))
        say(String(format: "an epoch of 60000 examples: %.1f s", 468 * step.median))
        reportOpProfile(try profileTrainingStep(on: backend, runs: quick ? 5 : 20), say: say)
        let iwae = try measureImportanceWeighted(on: backend, reference: reference)
        say(String(format: "importance-weighted −log p(x), K = 5000: %.1f ms per example (10,000 examples: %.0f s); its decoder products on OpenBLAS alone: %.1f ms (%.2f× that)",
                   iwae.perExample.median * 1e3, iwae.perExample.median * 1e4, iwae.gemmBound * 1e3, iwae.perExample.median / iwae.gemmBound))
        if let cl = backend as? OpenCLBackend, let tuned = cl.tuning {
            // The same step with the configuration the device gets without `vae tune`.
            let base = KernelTuning.standard(for: cl.device)
            let untuned = try measureTrainingStep(on: try OpenCLBackend(device: cl.device, tuning: base), steps: quick ? 10 : 40)
            say(String(format: "tuned kernels (%@): %.2f ms per step; default (%@): %.2f ms (tuned %.2f× as fast)",
                       tuned.description, step.median * 1e3, base.description, untuned.median * 1e3, untuned.median / step.median))
        }
        say("")
        try ConvMeasurements.report(on: backend, reference: reference, peak: peak, quick: quick, say: say)
        say("")
        let bookkeeping = try measureExecutorOverhead()
        say(String(format: "executor bookkeeping: %.1f µs per step (%.1f%% of this step)", bookkeeping.median * 1e6, 100 * bookkeeping.median / step.median))
        say(String(format: "kernel launch overhead: %.1f µs per enqueued op", try measureLaunchOverhead(on: backend)))
        return r
    }
}
