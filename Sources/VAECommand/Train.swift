import ArgumentParser
import Engine
import Foundation
import DataParallel
import VAE

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a VAE; writes checkpoints, metrics.csv and PNG grids to --out.")

    @OptionGroup var backendOptions: BackendOptions

    @Option(help: "Training data: a folder of MNIST-format IDX files (.gz or plain; its test split is the test set), a .npy array or a .csv table with a header row.")
    var data = Dataset.fashionMNISTDirectory
    @OptionGroup var reading: DataReading
    @Option(help: "Test data in the format of --data (default: the IDX folder's test split, else --test-fraction of --data).")
    var testData: String?
    @Option(help: ".npy: integer labels of --test-data.") var testLabels: String?
    @Option(help: "Fraction of --data held out as the test set (seeded by --seed) when there is no test split or --test-data.")
    var testFraction = 0.2
    @Option(help: "Epochs to train (in all, when resuming).") var epochs = 10
    @Option(help: "Examples per batch.") var batchSize = 128
    @Option(help: "Latent dimensions.") var latent = 20
    @Option(help: "mlp (dense layers, --hidden) or conv (stride-2 convolutions, --channels, --kernel, --dense).") var architecture = "mlp"
    @Option(help: "Hidden layer sizes of the mlp, comma-separated (encoder order; the decoder mirrors them).") var hidden = "400"
    @Option(help: "Output channels of the conv encoder's convolutions, comma-separated (the decoder mirrors them).") var channels = "32,64"
    @Option(help: "Kernel size of every convolution (stride 2, padding (kernel − 1)/2).") var kernel = 4
    @Option(help: "Width of the conv model's dense layer before the latent layers.") var dense = 256
    @Option(help: "relu, leaky-relu, sigmoid, tanh, softplus or identity.") var activation = "relu"
    @Option(help: "bernoulli, gaussian (fixed --sigma), calibrated (σ-VAE: one σ² from the batch) or calibrated-per-feature (one σ² per feature) (default: bernoulli for data in [0, 1], calibrated-per-feature for tables, else calibrated).")
    var likelihood: String?
    @Option(help: "σ of the gaussian likelihood.") var sigma: Float = 0.1
    @Option(help: "Weight of the KL term (1: VAE, >1: β-VAE, 0: autoencoder).") var beta: Float = 1
    @Option(help: "Monte-Carlo samples of z per example.") var samples = 1
    @Option(help: "closed-form or monte-carlo.") var kl = "closed-form"
    @Option(help: "joint (one Adam step on everything) or alternating (E-step on the encoder, M-step on the decoder).")
    var schedule = "joint"
    @Option(help: "Adam learning rate.") var lr: Float = 1e-3
    @Option(help: "E-step rate of the alternating schedule (default: --lr).") var lrEncoder: Float?
    @Option(help: "M-step rate of the alternating schedule (default: --lr).") var lrDecoder: Float?
    @Option(help: "Classes (labels) to leave out of training, comma-separated, for anomaly benchmarks.") var excludeClasses = ""
    @Option(help: "Random seed: initialization, shuffling and sampling.") var seed: UInt64 = 0
    @Option(help: "Output folder (default: the --resume folder, else runs/NAME, or runs/NAME-2, -3, … when that holds a model; NAME is fashion-mnist for IDX folders, else the --data file's name).")
    var out: String?
    @Option(help: "Continue the run in this folder from its model.safetensors (same flags; raise --epochs to train longer).")
    var resume: String?
    @Flag(help: "Start afresh in an --out folder that holds a run (model.safetensors, metrics.csv) or files in place of its pictures, replacing them.")
    var overwrite = false
    @OptionGroup var parallel: ParallelOptions

    /// Picks the run folder and holds it for the life of the run (see `RunFolderLock`): a
    /// trained model is never replaced unless asked, and two runs never share a folder. The
    /// default folder moves on to the next free name (past a model or a running run); an
    /// explicit --out that holds a model, or that another run holds, is an error.
    func claimOutputFolder() throws -> (folder: String, lock: RunFolderLock) {
        // A run's model or history: what a fresh run must not replace unasked.
        func holdsRun(_ folder: String) -> String? {
            [RunFolder.model, RunFolder.metrics].first { FileSystem.exists(FileSystem.join(folder, $0)) }
        }
        if let folder = out ?? resume {
            try prepareOutputDirectory(folder)
            let lock = try RunFolderLock(folder: folder)
            let continuing = resume != nil && (out == nil || FileStatus(out ?? "")?.identity == FileStatus(resume ?? "")?.identity)
            if !continuing && !overwrite, let file = holdsRun(folder) {
                throw ConfigurationError.invalid("--out", folder, "a folder without a run (it holds \(file)): continue it with --resume \(folder), choose another --out, or pass --overwrite to replace it")
            }
            try checkPictures(in: folder)
            return (folder, lock)
        }
        for n in 1... {
            let folder = n == 1 ? "runs/\(runName)" : "runs/\(runName)-\(n)"
            guard overwrite || holdsRun(folder) == nil else { continue }
            try prepareOutputDirectory(folder)
            if let lock = try RunFolderLock.ifFree(folder: folder), overwrite || holdsRun(folder) == nil {
                try checkPictures(in: folder)
                return (folder, lock)
            }
        }
        fatalError("unreachable: the folder numbers are unbounded")
    }

    /// The default run folder's name: fashion-mnist for IDX folders (as always), else the data
    /// file's name without its extension (runs/bc-train for --data bc/bc-train.csv).
    private var runName: String {
        guard FileStatus(data)?.kind != .directory else { return "fashion-mnist" }
        let base = URL(fileURLWithPath: data).deletingPathExtension().lastPathComponent
        let safe = String(base.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
        return safe.isEmpty || safe.hasPrefix(".") ? "data" : safe
    }

    /// The pictures a run rewrites each epoch replace only earlier pictures (see `OutputGuard`).
    private func checkPictures(in folder: String) throws {
        for (name, kind) in [("samples.png", OutputKind.png), ("reconstructions.png", .png), ("loss.svg", .svg)] {
            try OutputGuard.check(FileSystem.join(folder, name), kind: kind, flag: "--out", overwrite: overwrite)
        }
    }
    @Option(help: "Use only the first N training examples (quick runs).") var limit: Int?
    @Option(help: "Device memory the training set may take, in bytes or with K, M, G (e.g. 512M); a larger training set is streamed to the device in shards (default: the device's largest buffer and half its memory).")
    var deviceMemory: String?

    /// --device-memory in bytes.
    func dataBudget() throws -> Int? {
        guard let text = deviceMemory else { return nil }
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        let unit = text.last.flatMap { units[Character($0.uppercased())] }
        guard let number = Int(unit == nil ? text : String(text.dropLast())), number > 0,
              case let (bytes, overflow) = number.multipliedReportingOverflow(by: unit ?? 1), !overflow else {
            throw ConfigurationError.invalid("--device-memory", text, "a positive number of bytes, optionally with K, M or G (e.g. 512M)")
        }
        return bytes
    }

    func configurations() throws -> (ModelConfiguration, TrainingConfiguration) {
        var model = ModelConfiguration()
        guard let family = ArchitectureKind(rawValue: architecture) else {
            throw ConfigurationError.invalid("--architecture", architecture, "mlp or conv")
        }
        model.architecture = family
        model.hiddenSizes = try parseList(hidden, flag: "--hidden")
        model.convChannels = try parseList(channels, flag: "--channels")
        model.kernelSize = kernel
        model.denseWidth = dense
        model.latentSize = latent
        model.activation = activation
        if let likelihood {
            guard let kind = LikelihoodKind(rawValue: likelihood) else {
                throw ConfigurationError.invalid("--likelihood", likelihood, "bernoulli, gaussian, calibrated or calibrated-per-feature")
            }
            model.likelihood = kind
        }
        model.sigma = sigma
        try model.validate()
        var training = TrainingConfiguration()
        training.batchSize = batchSize
        training.epochs = epochs
        training.beta = beta
        training.samples = samples
        guard let estimator = KLEstimator(rawValue: kl) else { throw ConfigurationError.invalid("--kl", kl, "closed-form or monte-carlo") }
        training.kl = estimator
        guard let order = Schedule(rawValue: schedule) else { throw ConfigurationError.invalid("--schedule", schedule, "joint or alternating") }
        training.schedule = order
        training.learningRate = lr
        training.encoderLearningRate = lrEncoder
        training.decoderLearningRate = lrDecoder
        training.seed = seed
        training.excludedClasses = try parseList(excludeClasses, flag: "--exclude-classes", allowEmpty: true)
        try training.validate()
        return (model, training)
    }

    func run() throws {
        let launched = Date()
        try VAECommand.reportingErrors {
            let group = try parallel.start()
            try ParallelOptions.run(group) { try train(group: group, launched: launched) }
        }
    }

    /// The run, as one process or as rank `group.rank` of an MPI job: every rank trains its
    /// share of each batch; rank 0 alone owns the run folder and writes to it.
    private func train(group: MPIProcessGroup?, launched: Date) throws {
        var (modelConfiguration, training) = try configurations()
        if let limit, limit <= 0 { throw ConfigurationError.invalid("--limit", "\(limit)", "a positive number of examples") }
        let leader = (group?.rank ?? 0) == 0
        let (out, lock): (String, RunFolderLock?) = leader ? try claimOutputFolder() : (out ?? resume ?? "", nil)
        defer { withExtendedLifetime(lock) {} }
        let (allTraining, testSet, preprocessing) = try loadData(seed: training.seed)
        try allTraining.checkLabels(training.excludedClasses, flag: "--exclude-classes")
        var trainSet = allTraining.excluding(classes: Set(training.excludedClasses))
        guard trainSet.count > 0 else {
            throw DataError.uselessLabelSelection(flag: "--exclude-classes", value: excludeClasses,
                                                  detail: "leaves no training examples: it names every label the data has (\(allTraining.labelValues.map(String.init).joined(separator: ",")))")
        }
        if let limit { trainSet = trainSet.prefix(limit) }
        modelConfiguration.inputSize = trainSet.exampleSize
        modelConfiguration.imageShape = [trainSet.channels, trainSet.imageShape.height, trainSet.imageShape.width]
        if likelihood == nil, !trainSet.valuesInUnitInterval {
            // Standardized tables: features differ in how well the others predict them.
            modelConfiguration.likelihood = preprocessing.mean == nil ? .calibrated : .calibratedPerFeature
        }
        if modelConfiguration.likelihood == .bernoulli, !trainSet.valuesInUnitInterval {
            throw DataError.values(path: data, detail: "the Bernoulli likelihood takes values in [0, 1], and this data has others\(preprocessing.mean == nil ? "" : " (tables are standardized)"); use --likelihood calibrated or gaussian")
        }
        var metadata = ["data_source": try CheckpointFormat.encode(preprocessing)]
        try modelConfiguration.validate()
        let checkpointPath = FileSystem.join(out, RunFolder.model)
        let backend = try backendOptions.make(for: group)
        let trainer = try Trainer(model: modelConfiguration, training: training, data: trainSet, backend: backend, dataBudget: try dataBudget(),
                                  group: group)
        if let resume {
            let path = CheckpointFormat.file(at: resume)
            let checkpoint = try Checkpoint(contentsOf: path)
            try checkResumable(checkpoint, training: training, path: path)
            try trainer.restore(checkpoint, path: path)
        }
        let session = try InferenceSession(architecture: modelConfiguration, parameters: try trainer.parameterValues(), backend: backend)
        let memory = trainer.memory
        say("""
            training \(modelConfiguration.summary) on \(trainSet.count) examples (\(trainer.stepsPerEpoch) steps of \(trainer.globalBatchSize) per epoch)
            backend: \(backend.deviceDescription); step memory \(memory.peak >> 10) KiB (\(memory.naive >> 10) KiB without reuse)
            """)
        if let group {
            say("data-parallel: \(group.size) processes (\(group.version)), each \(training.batchSize) examples of every batch; rank 0 writes to \(out)")
        }
        if let rows = trainer.shardExamples {
            say("the training set is streamed to the device in shards of \(rows) examples (\(trainSet.count) in all)")
        }
        if trainer.epoch >= training.epochs {
            say("the checkpoint in \(out) has already trained \(trainer.epoch) epochs; ask for more with --epochs")
        }
        let metrics = MetricsFile(path: FileSystem.join(out, RunFolder.metrics))
        let progress = ProgressDisplay(epochs: training.epochs, steps: trainer.stepsPerEpoch, batchSize: trainer.globalBatchSize)
        let interrupt = InterruptRequest()
        var firstStepDone: Date?
        let ready = Date()
        // Steps between progress reports. Each report reads the loss from the device, which waits
        // for the queue to drain (0.15–0.2 ms on PoCL; 52 reports were ~0.7% of a 1.3 s MLP
        // epoch), so after the first epoch reports come about every quarter second instead.
        var reportEvery = max(1, trainer.stepsPerEpoch / 50)
        while trainer.epoch < training.epochs {
            let start = Date()
            let firstStep = trainer.stepInEpoch
            progress.begin(epoch: trainer.epoch + 1, from: firstStep)
            let trainLoss = try trainer.trainEpoch(reportEvery: reportEvery, shouldStop: {
                if firstStepDone == nil {
                    let now = Date()
                    firstStepDone = now
                    say(String(format: "first step done %.2f s after start (%.2f s loading data, building kernels and graphs; %.0f ms the step)",
                               now.timeIntervalSince(launched), ready.timeIntervalSince(launched), now.timeIntervalSince(ready) * 1e3))
                }
                return interrupt.isRequested
            }) { step, loss in
                progress.update(step: step, loss: loss)
            }
            if trainer.stepInEpoch != 0 {
                if leader { try trainer.checkpoint(metadata: metadata).write(to: checkpointPath) }
                progress.end(line: "interrupted at step \(trainer.stepInEpoch) of epoch \(trainer.epoch + 1); wrote \(checkpointPath). Continue with: vae train --resume \(out) (and the same flags)")
                throw ExitCode(130)
            }
            let seconds = Date().timeIntervalSince(start)
            let stepSeconds = seconds / Double(max(1, trainer.stepsPerEpoch - firstStep))
            reportEvery = min(trainer.stepsPerEpoch, max(reportEvery, Int((0.25 / max(stepSeconds, 1e-6)).rounded(.up))))
            try session.update(parameters: try trainer.parameterValues())
            let test = try session.negativeELBO(testSet, seed: training.seed, group: group)
            let throughput = Double((trainer.stepsPerEpoch - firstStep) * trainer.globalBatchSize) / seconds
            progress.end(line: String(format: "epoch %d/%d  train −ELBO %.2f  test −ELBO %.2f (reconstruction %.2f + KL %.2f)  %.1f s  %.0f samples/s",
                                      trainer.epoch, training.epochs, trainLoss, test.negativeELBO, test.reconstruction, test.kl, seconds, throughput))
            if group != nil {
                let steps = Double(max(1, trainer.stepsPerEpoch - firstStep)), t = trainer.exchangeTime
                say(String(format: "  gradient exchange per step: %.2f ms (all-reduce of %d floats %.2f ms, the rest copies to and from the device)",
                           t.total / steps * 1e3, t.floats, t.sum / steps * 1e3))
                trainer.exchangeTime = ExchangeTime()
            }
            guard leader else { continue }
            if let variances = try calibratedVariances(session: session, data: trainSet, kind: modelConfiguration.likelihood) {
                metadata[CalibratedVariances.metadataKey] = CalibratedVariances.text(variances)
            }
            // The checkpoint first: metrics.csv gets a row only for an epoch whose model was written.
            try trainer.checkpoint(metadata: metadata).write(to: checkpointPath)
            try metrics.append(epoch: trainer.epoch, step: trainer.step, trainLoss: Double(trainLoss), test: test,
                               seconds: seconds, samplesPerSecond: throughput)
            try writePictures(session: session, testSet: testSet, seed: training.seed, out: out)
        }
        guard leader else { return }
        if let text = try? FileSystem.read(metrics.path) {
            try writeTextAtomically(LossPlot(metricsCSV: String(decoding: text, as: UTF8.self)).svg(), to: FileSystem.join(out, "loss.svg"))
        }
        say("wrote \(checkpointPath), metrics.csv, loss.svg, reconstructions.png and samples.png to \(out)")
    }

    /// The training and test sets, prepared (tables standardized with the training part's
    /// statistics), and how they were prepared.
    private func loadData(seed: UInt64) throws -> (Dataset, Dataset, DataPreprocessing) {
        let source = reading.source(data, labels: reading.labels)
        var training = try source.load(split: .train)
        var test: Dataset
        if let testData {
            var testSource = reading.source(testData, labels: testLabels)
            testSource.columns.featureColumns = training.columns
            testSource.columns.labelNames = training.labelNames
            guard try testSource.format() == source.format() else {
                throw ConfigurationError.invalid("--test-data", testData, "data in the format of --data (\(try source.format().rawValue))")
            }
            test = try testSource.load(split: .test)
        } else if try source.format() == .idx {  // its t10k split
            test = try source.load(split: .test)
        } else {
            (training, test) = try training.split(testFraction: testFraction, seed: seed)
        }
        let preprocessing = try DataPreprocessing.fit(training, source: source)
        preprocessing.apply(to: &training)
        preprocessing.apply(to: &test)
        return (training, test, preprocessing)
    }

    private func checkResumable(_ checkpoint: Checkpoint, training: TrainingConfiguration, path: String) throws {
        guard let stored = try CheckpointFormat.configurations(checkpoint, path: path).1 else {
            throw CheckpointError.badMetadata(path: path, field: "training", value: "(missing)", expected: "the run's training flags, to compare with this command's")
        }
        var a = stored, b = training
        a.epochs = 0
        b.epochs = 0
        guard a == b else {
            throw CheckpointError.configurationMismatch(path: path, detail: "its training flags differ from this command's: \(differences(stored, training)); rerun with the original flags")
        }
    }
}

func differences(_ a: TrainingConfiguration, _ b: TrainingConfiguration) -> String {
    let pairs: [(String, String, String)] = [
        ("--batch-size", "\(a.batchSize)", "\(b.batchSize)"), ("--beta", "\(a.beta)", "\(b.beta)"),
        ("--samples", "\(a.samples)", "\(b.samples)"), ("--kl", a.kl.rawValue, b.kl.rawValue),
        ("--schedule", a.schedule.rawValue, b.schedule.rawValue), ("--lr", "\(a.learningRate)", "\(b.learningRate)"),
        ("--lr-encoder", "\(a.encoderLearningRate.map { "\($0)" } ?? "-")", "\(b.encoderLearningRate.map { "\($0)" } ?? "-")"),
        ("--lr-decoder", "\(a.decoderLearningRate.map { "\($0)" } ?? "-")", "\(b.decoderLearningRate.map { "\($0)" } ?? "-")"),
        ("--seed", "\(a.seed)", "\(b.seed)"), ("--exclude-classes", "\(a.excludedClasses)", "\(b.excludedClasses)"),
    ]
    return pairs.filter { $0.1 != $0.2 }.map { "\($0.0) was \($0.1), now \($0.2)" }.joined(separator: ", ")
}

/// Parses "400,200" into sizes; the flag names the error.
func parseList(_ text: String, flag: String, allowEmpty: Bool = false) throws -> [Int] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    if parts.isEmpty && allowEmpty { return [] }
    let values = parts.compactMap { Int($0) }
    guard values.count == parts.count, !values.isEmpty || allowEmpty else {
        throw ConfigurationError.invalid(flag, text, "comma-separated whole numbers, e.g. 400,200")
    }
    return values
}

