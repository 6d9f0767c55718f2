import Engine

/// Launchers of Kernels/conv.cl, and the three convolution ops they make up: im2col (or a
/// channel transposition), one GEMM over the whole batch with the device's GEMM structure, and
/// a data-moving epilogue.
extension OpenCLBackend {
    /// Scratch slots of the convolutions (slot 0 belongs to the loss and reductions).
    private static let patchSlot = 1, productSlot = 2

    func conv2d(_ g: ConvolutionGeometry, _ act: Activation, y: CLBuffer, x: CLBuffer, weight: CLBuffer,
                bias: CLBuffer?, input: ImageShape, kernel: ImageShape, output: ImageShape) throws {
        let k = kernel.channels * kernel.height * kernel.width, columns = input.batch * output.plane
        let cols = try scratchBuffer(slot: Self.patchSlot, bytes: k * columns * 4)
        let product = try scratchBuffer(slot: Self.productSlot, bytes: output.channels * columns * 4)
        try im2col(cols: cols, x: x, input, kernelHeight: kernel.height, kernelWidth: kernel.width, g, output: output)
        try gemm(c: product, a: weight, b: cols, bias: nil, m: output.channels, n: columns, k: k,
                 transposeA: false, transposeB: false, activation: .identity)
        try channel_rows_to_images(images: y, rows: product, bias: bias, act,
                                   batch: input.batch, channels: output.channels, plane: output.plane)
    }

    func convTranspose2d(_ g: ConvolutionGeometry, _ act: Activation, y: CLBuffer, x: CLBuffer, weight: CLBuffer,
                         bias: CLBuffer?, input: ImageShape, kernel: ImageShape, output: ImageShape) throws {
        let columns = input.batch * input.plane, rows = output.channels * kernel.height * kernel.width
        let xt = try scratchBuffer(slot: Self.productSlot, bytes: input.channels * columns * 4)
        let cols = try scratchBuffer(slot: Self.patchSlot, bytes: rows * columns * 4)
        try images_to_channel_rows(rows: xt, images: x, batch: input.batch, channels: input.channels, plane: input.plane)
        try gemm(c: cols, a: weight, b: xt, bias: nil, m: rows, n: columns, k: input.channels,
                 transposeA: true, transposeB: false, activation: .identity)
        try col2im(out: y, cols: cols, bias: bias, act, input: input, kernelHeight: kernel.height, kernelWidth: kernel.width, g,
                   output: output)
    }

    func conv2dWeightGradient(_ g: ConvolutionGeometry, dw: CLBuffer, x: CLBuffer, dy: CLBuffer,
                              input: ImageShape, gradient: ImageShape, kernelHeight kh: Int, kernelWidth kw: Int) throws {
        let k = input.channels * kh * kw, columns = input.batch * gradient.plane
        let cols = try scratchBuffer(slot: Self.patchSlot, bytes: k * columns * 4)
        let dyt = try scratchBuffer(slot: Self.productSlot, bytes: gradient.channels * columns * 4)
        try im2col(cols: cols, x: x, input, kernelHeight: kh, kernelWidth: kw, g, output: gradient)
        try images_to_channel_rows(rows: dyt, images: dy, batch: gradient.batch, channels: gradient.channels, plane: gradient.plane)
        try gemm(c: dw, a: dyt, b: cols, bias: nil, m: gradient.channels, n: k, k: columns,
                 transposeA: false, transposeB: true, activation: .identity)
    }

    /// cols[C·kh·kw, N·OH·OW]: the input patch under each output pixel, zero outside the image.
    func im2col(cols: CLBuffer, x: CLBuffer, _ input: ImageShape, kernelHeight kh: Int, kernelWidth kw: Int,
                _ g: ConvolutionGeometry, output: ImageShape) throws(OpenCLError) {
        let columns = input.batch * output.plane
        let rowsPerItem = perItem(output.height)  // whole planes on CPU devices
        _ = try int(columns * input.channels * kh * kw, "im2col")  // the patches' element count, which the kernel indexes
        try enqueue(.im2col, [.buffer(cols), .buffer(x)] + (try ints("im2col", [input.batch, input.channels, input.height, input.width,
                                                                                 kh, kw, g.stride, g.padding, output.height, output.width,
                                                                                 rowsPerItem])),
                    global: [(output.height + rowsPerItem - 1) / rowsPerItem, input.batch, input.channels * kh * kw],
                    local: [1, min(tiles.local1D, input.batch), 1])
    }

    /// The transposed convolution's output from its columns cols[C·kh·kw, N·H·W] (gather form,
    /// fixed order), plus bias and activation.
    func col2im(out: CLBuffer, cols: CLBuffer, bias: CLBuffer?, _ act: Activation, input: ImageShape, kernelHeight kh: Int,
                kernelWidth kw: Int, _ g: ConvolutionGeometry, output: ImageShape) throws(OpenCLError) {
        let rowsPerItem = perItem(output.height)  // whole planes on CPU devices
        _ = try int(output.batch * output.channels * output.plane, "convTranspose2d")
        try enqueue(.col2im, [.buffer(out), .buffer(cols), .buffer(bias ?? cols)] + (try ints("convTranspose2d", [
            output.batch, output.channels, input.height, input.width, kh, kw, g.stride, g.padding,
            output.height, output.width, bias == nil ? 0 : 1])) + [.int(act.kernelCode), .float(act.kernelSlope), .int(Int32(rowsPerItem))],
            global: [output.batch * ((output.height + rowsPerItem - 1) / rowsPerItem), output.channels], local: [tiles.local1D, 1])
    }

    /// Their work-groups: along the batch on CPU devices (a plane per work-item), along the
    /// plane on GPUs.
    private func planeGroup(batch: Int) -> [Int] {
        tiles.gemmTiles == nil ? [1, 1, min(batch, tiles.local1D)] : [tiles.local1D, 1, 1]
    }

    /// rows[C, N·P] from images[N, C, P].
    func images_to_channel_rows(rows: CLBuffer, images: CLBuffer, batch: Int, channels: Int, plane: Int) throws(OpenCLError) {
        _ = try int(batch * channels * plane, "images_to_channel_rows")
        let each = perItem(plane)
        try enqueue(.images_to_channel_rows, [.buffer(rows), .buffer(images)]
                    + (try ints("images_to_channel_rows", [batch, channels, plane, each])),
                    global: [(plane + each - 1) / each, channels, batch], local: planeGroup(batch: batch))
    }

    /// images[N, C, P] = act(rows[C, N·P] + bias[C]).
    func channel_rows_to_images(images: CLBuffer, rows: CLBuffer, bias: CLBuffer?, _ act: Activation,
                                batch: Int, channels: Int, plane: Int) throws(OpenCLError) {
        _ = try int(batch * channels * plane, "channel_rows_to_images")
        let each = perItem(plane)
        try enqueue(.channel_rows_to_images, [.buffer(images), .buffer(rows), .buffer(bias ?? rows)]
                    + (try ints("channel_rows_to_images", [batch, channels, plane]))
                    + [.int(bias == nil ? 0 : 1), .int(act.kernelCode), .float(act.kernelSlope), .int(Int32(each))],
                    global: [(plane + each - 1) / each, channels, batch], local: planeGroup(batch: batch))
    }

    /// y[C] = Σ (or the mean) of x[N, C, H, W] over everything but the channel.
    func reduce_channels(y: CLBuffer, x: CLBuffer, _ r: Reduction, shape: Shape) throws(OpenCLError) {
        let image = ImageShape(shape)
        let scale: Float = r == .mean ? 1 / Float(image.batch * image.plane) : 1
        try enqueue(.reduce_channels, [.buffer(y), .buffer(x)] + (try ints("reduce_channels", [image.batch, image.channels, image.plane]))
                    + [.float(scale)], global: [image.channels], local: loopingGroup(items: image.channels))
    }
}
