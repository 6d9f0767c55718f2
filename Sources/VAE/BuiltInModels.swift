import Engine

/// The built-in architectures as `VAEArchitecture`s.
///
/// MLP: encoder `encoder.i` (Dense, act) for each hidden width, then `mean` and `logvar`;
/// decoder `decoder.i` mirrored, then `output` (Dense to D).
///
/// Conv (for [C, H, W] images; defaults give PyTorch-VAE's shape for 28×28):
/// encoder `encoder.conv.i` Conv2d(k, stride 2, padding (k − 1)/2, act) with `convChannels`
/// (28×28 → 14×14 → 7×7 for 32, 64), flatten, `encoder.dense` (act) to `denseWidth`, then
/// `mean` and `logvar`; decoder `decoder.dense` (act) to `denseWidth`, `decoder.expand` (act)
/// to the last conv's C'·H'·W', reshape, then `decoder.deconv.i` ConvTranspose2d mirroring
/// the convs (act between them, none after the last, which gives C channels of logits or x̂),
/// each with the output padding that restores exactly the size its encoder twin consumed.
extension ModelConfiguration: VAEArchitecture {
    /// The configuration as JSON (sorted keys): the checkpoint's "model" metadata.
    public var identity: String { (try? CheckpointFormat.encode(self)) ?? summary }

    public var exampleShape: [Int] { architecture == .conv ? imageShape : [inputSize] }
    public var decoderLikelihood: Likelihood { engineLikelihood }

    public var summary: String {
        let body = switch architecture {
        case .mlp: ([inputSize] + hiddenSizes + [latentSize]).map(String.init).joined(separator: "-")
        case .conv: "conv \(imageShape.map(String.init).joined(separator: "×"))-\(convChannels.map(String.init).joined(separator: "-"))"
            + " k\(kernelSize)-\(denseWidth)-\(latentSize)"
        }
        return "\(body) \(activation) VAE, \(likelihood.rawValue) likelihood"
    }

    /// Spatial extents after each encoder convolution, from the input's [H, W].
    public var convolvedSizes: [(height: Int, width: Int)] {
        let g = ConvolutionGeometry(stride: 2, padding: (kernelSize - 1) / 2)
        var sizes = [(imageShape[1], imageShape[2])]
        for _ in convChannels {
            let (h, w) = sizes[sizes.count - 1]
            sizes.append((g.convolved(h, kernel: kernelSize), g.convolved(w, kernel: kernelSize)))
        }
        return sizes
    }

    func validateConvolutions() throws(ConfigurationError) {
        guard imageShape.count == 3, imageShape.allSatisfy({ $0 > 0 }), imageShape.reduce(1, *) == inputSize else {
            throw .invalid("the image shape", imageShape.map(String.init).joined(separator: "×"),
                           "C×H×W with \(inputSize) values per example (the data's images)")
        }
        guard !convChannels.isEmpty, convChannels.count <= 8, convChannels.allSatisfy({ $0 > 0 }) else {
            throw .invalid("--channels", convChannels.map(String.init).joined(separator: ","), "1 to 8 positive channel counts, e.g. 32,64")
        }
        guard (1...15).contains(kernelSize) else { throw .invalid("--kernel", "\(kernelSize)", "a kernel size from 1 to 15") }
        guard denseWidth > 0 else { throw .invalid("--dense", "\(denseWidth)", "a positive width") }
        let sizes = convolvedSizes
        if let bad = sizes.firstIndex(where: { $0.height < 1 || $0.width < 1 }) {
            let (h, w) = sizes[bad - 1]
            throw .invalid("the image shape", imageShape.map(String.init).joined(separator: "×"),
                           "images large enough for \(convChannels.count) stride-2 convolutions with --kernel \(kernelSize): convolution \(bad) would get \(h)×\(w) pixels, too few for the kernel (use fewer --channels or a smaller --kernel)")
        }
    }

    public func makeNetworks(in g: Graph) throws -> VAENetworks {
        try validate()
        let act = engineActivation
        switch architecture {
        case .mlp:
            let widths = [inputSize] + hiddenSizes
            let encoder = try (0..<hiddenSizes.count).map { try Dense("encoder.\($0)", inputs: widths[$0], outputs: widths[$0 + 1], activation: act, in: g) }
            let top = widths[widths.count - 1]
            // Made in this order (it sets each parameter's initial-value stream): encoder, μ, log σ², decoder.
            let mean = try Dense("mean", inputs: top, outputs: latentSize, in: g)
            let logVariance = try Dense("logvar", inputs: top, outputs: latentSize, in: g)
            let back = [latentSize] + hiddenSizes.reversed()
            let decoder = try (0..<hiddenSizes.count).map { try Dense("decoder.\($0)", inputs: back[$0], outputs: back[$0 + 1], activation: act, in: g) }
            return VAENetworks(encoder: Sequential(encoder), mean: mean, logVariance: logVariance,
                               decoder: Sequential(decoder + [try Dense("output", inputs: back[back.count - 1], outputs: inputSize, in: g)]))
        case .conv:
            let sizes = convolvedSizes
            let channels = [imageShape[0]] + convChannels
            let (k, padding) = (kernelSize, (kernelSize - 1) / 2)
            var encoder: [any Layer] = try (0..<convChannels.count).map {
                try Conv2d("encoder.conv.\($0)", inputChannels: channels[$0], outputChannels: channels[$0 + 1], kernel: k, stride: 2,
                           padding: padding, activation: act, in: g)
            }
            let last = sizes[sizes.count - 1]
            let features = channels[channels.count - 1] * last.height * last.width
            encoder += [Flatten(), try Dense("encoder.dense", inputs: features, outputs: denseWidth, activation: act, in: g)]
            let mean = try Dense("mean", inputs: denseWidth, outputs: latentSize, in: g)
            let logVariance = try Dense("logvar", inputs: denseWidth, outputs: latentSize, in: g)
            var decoder: [any Layer] = [
                try Dense("decoder.dense", inputs: latentSize, outputs: denseWidth, activation: act, in: g),
                try Dense("decoder.expand", inputs: denseWidth, outputs: features, activation: act, in: g),
                Reshape([channels[channels.count - 1], last.height, last.width]),
            ]
            let geometry = ConvolutionGeometry(stride: 2, padding: padding)
            for (i, layer) in (0..<convChannels.count).reversed().enumerated() {
                let target = sizes[layer]
                let restore = geometry.restoring(height: target.height, width: target.width, kernelHeight: k, kernelWidth: k)
                decoder.append(try ConvTranspose2d("decoder.deconv.\(i)", inputChannels: channels[layer + 1], outputChannels: channels[layer],
                                                   kernel: k, stride: 2, padding: padding,
                                                   outputPadding: (restore.outputPaddingHeight, restore.outputPaddingWidth),
                                                   activation: layer == 0 ? .identity : act, in: g))
            }
            return VAENetworks(encoder: Sequential(encoder), mean: mean, logVariance: logVariance, decoder: Sequential(decoder))
        }
    }
}
