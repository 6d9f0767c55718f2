/// Stride and zero padding of a 2-D convolution (the same along height and width), and the
/// extra rows and columns a transposed convolution adds at the bottom and right.
///
/// A convolution maps an extent n to ⌊(n + 2·padding − kernel)/stride⌋ + 1; a transposed
/// convolution maps n to (n − 1)·stride − 2·padding + kernel + outputPadding, so with an output
/// padding in 0..<stride it restores exactly the extent its convolution twin consumed.
public struct ConvolutionGeometry: Hashable, Sendable, CustomStringConvertible {
    public var stride: Int
    public var padding: Int
    /// Extra output rows (height) of a transposed convolution, 0 ≤ value < stride; 0 for a convolution.
    public var outputPaddingHeight: Int
    /// Extra output columns (width) of a transposed convolution, 0 ≤ value < stride; 0 for a convolution.
    public var outputPaddingWidth: Int

    public init(stride: Int = 1, padding: Int = 0, outputPadding: Int = 0) {
        self.init(stride: stride, padding: padding, outputPaddingHeight: outputPadding, outputPaddingWidth: outputPadding)
    }

    public init(stride: Int, padding: Int, outputPaddingHeight: Int, outputPaddingWidth: Int) {
        self.stride = stride
        self.padding = padding
        self.outputPaddingHeight = outputPaddingHeight
        self.outputPaddingWidth = outputPaddingWidth
    }

    /// ⌊(n + 2p − k)/s⌋ + 1: a convolution's output extent (≤ 0 when the kernel does not fit).
    public func convolved(_ n: Int, kernel: Int) -> Int {
        let span = n + 2 * padding - kernel
        return span < 0 ? 0 : span / stride + 1
    }

    /// (n − 1)s − 2p + k + outputPadding: a transposed convolution's output extent.
    public func transposed(_ n: Int, kernel: Int, outputPadding: Int) -> Int {
        (n - 1) * stride - 2 * padding + kernel + outputPadding
    }

    /// The transposed geometry (same stride and padding, output padding per axis) that maps a
    /// convolution's output back to exactly `height` × `width`: the input gradient's geometry, and
    /// the decoder twin of an encoder convolution.
    public func restoring(height: Int, width: Int, kernelHeight: Int, kernelWidth: Int) -> ConvolutionGeometry {
        let outH = convolved(height, kernel: kernelHeight), outW = convolved(width, kernel: kernelWidth)
        return ConvolutionGeometry(stride: stride, padding: padding,
                                   outputPaddingHeight: height - transposed(outH, kernel: kernelHeight, outputPadding: 0),
                                   outputPaddingWidth: width - transposed(outW, kernel: kernelWidth, outputPadding: 0))
    }

    /// The same stride and padding without output padding: the geometry of a transposed
    /// convolution's input gradient (a convolution).
    var withoutOutputPadding: ConvolutionGeometry { ConvolutionGeometry(stride: stride, padding: padding) }

    public var description: String {
        var text = "stride \(stride), padding \(padding)"
        if outputPaddingHeight != 0 || outputPaddingWidth != 0 {
            text += outputPaddingHeight == outputPaddingWidth ? ", output padding \(outputPaddingHeight)"
                : ", output padding \(outputPaddingHeight)×\(outputPaddingWidth)"
        }
        return text
    }
}

/// The four extents of an [N, C, H, W] tensor.
public struct ImageShape: Hashable, Sendable {
    public var batch: Int, channels: Int, height: Int, width: Int

    public init(_ shape: Shape) {
        let d = shape.dimensions + [Int](repeating: 1, count: max(0, 4 - shape.rank))
        (batch, channels, height, width) = (d[0], d[1], d[2], d[3])
    }

    /// Pixels per channel plane.
    public var plane: Int { height * width }
}

extension Op {
    /// Shape rules of the convolution ops (see `outputSpecs`).
    func convolutionSpecs(_ s: [Shape], fail: (String) -> GraphError) throws(GraphError) -> [TensorSpec] {
        func image(_ i: Int, _ role: String) throws(GraphError) -> ImageShape {
            guard s[i].rank == 4 else { throw fail("\(role) must have rank 4 [N, C, H, W], got \(s[i])") }
            return ImageShape(s[i])
        }
        func checkGeometry(_ g: ConvolutionGeometry, transposed: Bool) throws(GraphError) {
            guard g.stride >= 1 else { throw fail("stride \(g.stride) must be at least 1") }
            guard g.padding >= 0 else { throw fail("padding \(g.padding) must not be negative") }
            let pads = [g.outputPaddingHeight, g.outputPaddingWidth]
            if transposed {
                guard pads.allSatisfy({ $0 >= 0 && $0 < g.stride }) else {
                    throw fail("output padding \(pads) must lie in 0..<stride (\(g.stride))")
                }
            } else if pads != [0, 0] {
                throw fail("a convolution takes no output padding, got \(pads)")
            }
        }
        func checkBias(_ index: Int, _ channels: Int) throws(GraphError) {
            guard s[index] == Shape(channels) else { throw fail("bias \(s[index]) must be [\(channels)], one value per output channel") }
        }
        switch self {
        case .conv2d(let g, _, let bias):
            try checkGeometry(g, transposed: false)
            let x = try image(0, "x"), w = try image(1, "weight [O, C, kh, kw]")
            guard w.channels == x.channels else { throw fail("x \(s[0]) has \(x.channels) channels but the weight \(s[1]) expects \(w.channels)") }
            let h = g.convolved(x.height, kernel: w.height), wo = g.convolved(x.width, kernel: w.width)
            guard h >= 1, wo >= 1 else {
                throw fail("a \(w.height)×\(w.width) kernel with \(g) does not fit the \(x.height)×\(x.width) input")
            }
            if bias { try checkBias(2, w.batch) }
            return [TensorSpec(Shape(x.batch, w.batch, h, wo))]
        case .convTranspose2d(let g, _, let bias):
            try checkGeometry(g, transposed: true)
            let x = try image(0, "x"), w = try image(1, "weight [Cin, Cout, kh, kw]")
            guard w.batch == x.channels else { throw fail("x \(s[0]) has \(x.channels) channels but the weight \(s[1]) expects \(w.batch)") }
            let h = g.transposed(x.height, kernel: w.height, outputPadding: g.outputPaddingHeight)
            let wo = g.transposed(x.width, kernel: w.width, outputPadding: g.outputPaddingWidth)
            guard h >= 1, wo >= 1 else { throw fail("a \(w.height)×\(w.width) kernel with \(g) gives an empty output from \(x.height)×\(x.width)") }
            if bias { try checkBias(2, w.channels) }
            return [TensorSpec(Shape(x.batch, w.channels, h, wo))]
        case .conv2dWeightGradient(let g, let kh, let kw):
            try checkGeometry(g, transposed: false)
            guard kh >= 1, kw >= 1 else { throw fail("kernel \(kh)×\(kw) must be at least 1×1") }
            let x = try image(0, "x"), dy = try image(1, "dy")
            let h = g.convolved(x.height, kernel: kh), wo = g.convolved(x.width, kernel: kw)
            guard dy.batch == x.batch, dy.height == h, dy.width == wo, h >= 1, wo >= 1 else {
                throw fail("dy \(s[1]) must be [\(x.batch), O, \(h), \(wo)] for x \(s[0]), a \(kh)×\(kw) kernel and \(g)")
            }
            return [TensorSpec(Shape(dy.channels, x.channels, kh, kw))]
        default:
            return []
        }
    }
}
