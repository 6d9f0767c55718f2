// Kernel and training-step benchmarks on both backends. Each figure has its reference in the
// same run: OpenBLAS (the CPU backend) for every GEMM, and the FMA-loop peak for the step.
// Custom metrics are in units the table can hold as integers: MFLOP/s, MB/s, samples/s.
import Benchmark
import CPUBackend
import Engine
import OpenCLBackend
import VAE
import VAEBench

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 3,
        maxDuration: .seconds(2),
        maxIterations: 200)

    var backends: [(String, any Backend)] = [("cpu", CPUBackend())]
    do {
        backends.append(("opencl", try OpenCLBackend()))
    } catch {
        print("OpenCL benchmarks skipped: \(error)")
    }

    // The convolutions' GEMMs on OpenBLAS ("cpu") are the references of the conv benchmarks below.
    for shape in GEMMShape.vae + [GEMMShape.large] + ConvMeasurements.layers.map(\.gemm) {
        for (name, backend) in backends {
            let op = Op.matmul(transposeA: shape.transposeA, transposeB: shape.transposeB)
            guard let bench = try? OpBench(op, inputs: shape.inputSpecs, on: backend) else { continue }
            Benchmark("GEMM \(shape) \(name)",
                      configuration: .init(metrics: [.wallClock, .custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)])) { benchmark in
                for _ in benchmark.scaledIterations {
                    let t = try bench.time(count: 5, repetitions: 1)
                    benchmark.measurement(.custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false), Int(shape.flops / t.median / 1e6))
                }
            }
        }
    }

    let x = TensorSpec(Shape(128, 784)), w = TensorSpec(Shape(400, 784)), bias = TensorSpec(Shape(400)), h = TensorSpec(Shape(128, 400))
    let latent = TensorSpec(Shape(128, 20)), params = TensorSpec(Shape(400, 784))
    let memoryOps: [(String, Op, [TensorSpec])] = [
        ("linear fused 128x784->400 relu", .linear(activation: .relu), [x, w, bias]),
        ("matmul NT 128x784->400 (unfused part)", .matmul(transposeA: false, transposeB: true), [x, w]),
        ("add 128x400 (unfused bias)", .add, [h, h]),
        ("activation relu 128x400 (unfused)", .activation(.relu), [h]),
        ("activation relu 128x784", .activation(.relu), [x]),
        ("reparameterize 128x20", .reparameterize(seed: 1, sample: 0), [latent, latent]),
        ("vaeLoss bernoulli 128x784", .vaeLoss(VAEObjective(likelihood: .bernoulli)), [x, x, latent, latent]),
        ("vaeLossGradient bernoulli 128x784", .vaeLossGradient(VAEObjective(likelihood: .bernoulli)), [x, x, latent, latent, TensorSpec(.scalar)]),
        ("adam 400x784", .adam(AdamHyperparameters()), [params, params, params, params]),
    ]
    for (label, op, specs) in memoryOps {
        for (name, backend) in backends {
            guard let bench = try? OpBench(op, inputs: specs, on: backend) else { continue }
            Benchmark("\(label) \(name)",
                      configuration: .init(metrics: [.wallClock, .custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)])) { benchmark in
                for _ in benchmark.scaledIterations {
                    let t = try bench.time(count: 10, repetitions: 1)
                    benchmark.measurement(.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false), Int(Double(bench.bytes) / t.median / 1e6))
                }
            }
        }
    }

    for layer in ConvMeasurements.layers {
        for (name, backend) in backends {
            guard let bench = try? OpBench(layer.op, inputs: layer.inputs, on: backend) else { continue }
            Benchmark("\(layer.name) \(name)",
                      configuration: .init(metrics: [.wallClock, .custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)])) { benchmark in
                for _ in benchmark.scaledIterations {
                    let t = try bench.time(count: 3, repetitions: 1)
                    benchmark.measurement(.custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false), Int(layer.gemm.flops / t.median / 1e6))
                }
            }
        }
    }
    var conv = ModelConfiguration()
    conv.architecture = .conv
    for (name, backend) in backends {
        Benchmark("conv training step 1x28x28-32-64-256-20 batch 128 \(name)",
                  configuration: .init(metrics: [.wallClock, .custom("samples/s", polarity: .prefersLarger, useScalingFactor: false)], maxIterations: 5)) { benchmark in
            for _ in benchmark.scaledIterations {
                let step = try measureTrainingStep(on: backend, steps: 8, model: conv)
                benchmark.measurement(.custom("samples/s", polarity: .prefersLarger, useScalingFactor: false), Int(128 / step.median))
            }
        }
    }

    let flopsPerSample = trainingFLOPsPerSample()
    for (name, backend) in backends {
        Benchmark("training step 784-400-20 batch 128 \(name)",
                  configuration: .init(metrics: [.wallClock, .custom("samples/s", polarity: .prefersLarger, useScalingFactor: false),
                                                 .custom("% of peak", polarity: .prefersLarger, useScalingFactor: false)],
                                       maxIterations: 10)) { benchmark in
            // Measured here, not at start-up: the benchmark process is started once per benchmark.
            let peak = measurePeakGFLOPS()
            print(String(format: "machine peak: %.0f GFLOP/s (FMA loop, %@)", peak, peakInstructionSet))
            for _ in benchmark.scaledIterations {
                let step = try measureTrainingStep(on: backend, steps: 20)
                let samples = 128 / step.median
                benchmark.measurement(.custom("samples/s", polarity: .prefersLarger, useScalingFactor: false), Int(samples))
                benchmark.measurement(.custom("% of peak", polarity: .prefersLarger, useScalingFactor: false), Int(100 * samples * flopsPerSample / 1e9 / peak))
            }
        }
        Benchmark("kernel launch \(name)",
                  configuration: .init(metrics: [.custom("ns per enqueued op", useScalingFactor: false)], maxIterations: 20)) { benchmark in
            for _ in benchmark.scaledIterations {
                benchmark.measurement(.custom("ns per enqueued op", useScalingFactor: false), Int(try measureLaunchOverhead(on: backend, count: 500) * 1e3))
            }
        }
    }
}
