import COpenCL
import Engine

/// Launchers of Kernels/conv.cl: convolutions as im2col (or a channel transposition), one GEMM
/// over the whole batch with the device's GEMM structure, and a data-moving epilogue.
extension OpenCLBackend {
    /// Scratch slots of the convolutions (slot 0 belongs to the loss and reductions).
    private static let patchSlot = 1, productSlot = 2

    func conv2d(_ g: ConvolutionGeometry, _ act: Activation, y: KernelArgument, x: KernelArgument, weight: KernelArgument,
                bias: KernelArgument?, input: ImageShape, kernel: ImageShape, output: ImageShape) throws {
        let k = kernel.channels * kernel.height * kernel.width, columns = input.batch * output.plane
        let cols = KernelArgument.buffer(try scratchBuffer(slot: Self.patchSlot, bytes: k * columns * 4))
        let product = KernelArgument.buffer(try scratchBuffer(slot: Self.productSlot, bytes: output.channels * columns * 4))
        try im2col(cols, x, input, kernelHeight: kernel.height, kernelWidth: kernel.width, g, out: output)
        try gemm(c: product, a: weight, b: cols, bias: nil, m: output.channels, n: columns, k: k,
                 transposeA: false, transposeB: false, activation: .identity)
        try channel_rows_to_images(y, product, bias: bias, act, batch: input.batch, channels: output.channels, plane: output.plane)
    }

    func convTranspose2d(_ g: ConvolutionGeometry, _ act: Activation, y: KernelArgument, x: KernelArgument, weight: KernelArgument,
                         bias: KernelArgument?, input: ImageShape, kernel: ImageShape, output: ImageShape) throws {
        let columns = input.batch * input.plane, rows = output.channels * kernel.height * kernel.width
        let xt = KernelArgument.buffer(try scratchBuffer(slot: Self.productSlot, bytes: input.channels * columns * 4))
        let cols = KernelArgument.buffer(try scratchBuffer(slot: Self.patchSlot, bytes: rows * columns * 4))
        try images_to_channel_rows(xt, x, batch: input.batch, channels: input.channels, plane: input.plane)
        try gemm(c: cols, a: weight, b: xt, bias: nil, m: rows, n: columns, k: input.channels,
                 transposeA: true, transposeB: false, activation: .identity)
        let (code, slope) = act.kernelCode
        try launch("col2im", [y, cols, bias ?? cols] + (try ints("convTranspose2d", [
            output.batch, output.channels, input.height, input.width, kernel.height, kernel.width, g.stride, g.padding,
            output.height, output.width, bias == nil ? 0 : 1])) + [.int(code), .float(slope)],
            global: [output.batch * output.channels * output.plane], local: [tiles.local1D])
    }

    func conv2dWeightGradient(_ g: ConvolutionGeometry, dw: KernelArgument, x: KernelArgument, dy: KernelArgument,
                              input: ImageShape, gradient: ImageShape, kernelHeight kh: Int, kernelWidth kw: Int) throws {
        let k = input.channels * kh * kw, columns = input.batch * gradient.plane
        let cols = KernelArgument.buffer(try scratchBuffer(slot: Self.patchSlot, bytes: k * columns * 4))
        let dyt = KernelArgument.buffer(try scratchBuffer(slot: Self.productSlot, bytes: gradient.channels * columns * 4))
        try im2col(cols, x, input, kernelHeight: kh, kernelWidth: kw, g, out: gradient)
        try images_to_channel_rows(dyt, dy, batch: gradient.batch, channels: gradient.channels, plane: gradient.plane)
        try gemm(c: dw, a: dyt, b: cols, bias: nil, m: gradient.channels, n: k, k: columns,
                 transposeA: false, transposeB: true, activation: .identity)
    }

    func reduce_channels(_ y: KernelArgument, _ x: KernelArgument, _ r: Reduction, shape: Shape) throws {
        let image = ImageShape(shape)
        let scale: Float = r == .mean ? 1 / Float(image.batch * image.plane) : 1
        try launch("reduce_channels", [y, x] + (try ints("reduce_channels", [image.batch, image.channels, image.plane])) + [.float(scale)],
                   global: [image.channels], local: [tiles.local1D])
    }

    private func im2col(_ cols: KernelArgument, _ x: KernelArgument, _ input: ImageShape, kernelHeight kh: Int, kernelWidth kw: Int,
                        _ g: ConvolutionGeometry, out: ImageShape) throws {
        let columns = input.batch * out.height * out.width
        _ = try int(columns * input.channels * kh * kw, "im2col")  // the patches' element count, which the kernel indexes
        try launch("im2col", [cols, x] + (try ints("im2col", [input.batch, input.channels, input.height, input.width, kh, kw,
                                                               g.stride, g.padding, out.height, out.width])),
                   global: [columns, input.channels * kh * kw], local: [tiles.local1D, 1])
    }

    private func images_to_channel_rows(_ rows: KernelArgument, _ images: KernelArgument, batch: Int, channels: Int, plane: Int) throws {
        _ = try int(batch * channels * plane, "images_to_channel_rows")
        try launch("images_to_channel_rows", [rows, images] + (try ints("images_to_channel_rows", [batch, channels, plane])),
                   global: [batch * channels * plane], local: [tiles.local1D])
    }

    private func channel_rows_to_images(_ images: KernelArgument, _ rows: KernelArgument, bias: KernelArgument?, _ act: Activation,
                                        batch: Int, channels: Int, plane: Int) throws {
        let (code, slope) = act.kernelCode
        _ = try int(batch * channels * plane, "channel_rows_to_images")
        try launch("channel_rows_to_images", [images, rows, bias ?? rows]
                   + (try ints("channel_rows_to_images", [batch, channels, plane]))
                   + [.int(bias == nil ? 0 : 1), .int(code), .float(slope)],
                   global: [batch * channels * plane], local: [tiles.local1D])
    }

    /// Sizes as kernel `int`s (each through `int(_:_:)`).
    private func ints(_ what: String, _ values: [Int]) throws(OpenCLError) -> [KernelArgument] {
        try values.map { (v) throws(OpenCLError) -> KernelArgument in try int(v, what) }
    }
}
