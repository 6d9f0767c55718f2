import CBLAS
import Engine

/// Convolutions lowered to one OpenBLAS GEMM over the whole batch (im2col): the twins of
/// Kernels/conv.cl. Patches and transposed copies live in the backend's scratch memory.
extension CPUBackend {
    /// cols[(c·kh + i)·kw + j, n·P + v·Wo + u] = x[n, c, v·s − p + i, u·s − p + j] (0 outside x),
    /// P = Ho·Wo: every output pixel's patch as one column.
    ///
    /// Each (image, channel) plane is first copied into a zero-padded plane, so every patch row
    /// is a gather through one offset table per (i, j) shared by all planes, with no bounds
    /// tests and no per-row set-up (rows are as short as 7 pixels in the default model).
    func im2col(_ cols: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ input: ImageShape,
                kernelHeight kh: Int, kernelWidth kw: Int, _ g: ConvolutionGeometry, outHeight: Int, outWidth: Int) {
        let (n, c, h, w) = (input.batch, input.channels, input.height, input.width)
        let plane = outHeight * outWidth, columns = n * plane
        let offsets = PaddedPlane.offsets(g, kernelHeight: kh, kernelWidth: kw, rows: outHeight, columns: outWidth, paddedWidth: w + 2 * g.padding)
        // One unit per (image, channel): its padded plane stays in L1 while the kh·kw rows it feeds are written.
        parallelFor(n * c, grain: max(1, parallelGrain / max(plane * kh * kw, 1))) { units in
            var padded = PaddedPlane(height: h, width: w, padding: g.padding)
            for unit in units {
                let image = unit / c, channel = unit % c
                padded.load(x + unit * h * w)
                for ij in 0..<kh * kw {
                    let dst = cols + (channel * kh * kw + ij) * columns + image * plane
                    padded.gather(into: dst, offsets: offsets, start: ij * plane, count: plane)
                }
            }
        }
    }

    /// rows[c, n·P + q] = images[n, c, q]: the batch as one row per channel.
    func imagesToChannelRows(_ rows: UnsafeMutablePointer<Float>, _ images: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int) {
        parallelFor(batch * channels, grain: max(1, parallelGrain / max(plane, 1))) { units in
            for unit in units {
                let n = unit / channels, c = unit % channels
                (rows + c * batch * plane + n * plane).update(from: images + unit * plane, count: plane)
            }
        }
    }

    /// images[n, c, q] = act(rows[c, n·P + q] + b[c]): the GEMM's channel rows back to images.
    func channelRowsToImages(_ act: Activation, _ images: UnsafeMutablePointer<Float>, _ rows: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>?, batch: Int, channels: Int, plane: Int) {
        parallelFor(batch * channels, grain: max(1, parallelGrain / max(plane, 1))) { units in
            for unit in units {
                let n = unit / channels, c = unit % channels
                let dst = images + unit * plane
                dst.update(from: rows + c * batch * plane + n * plane, count: plane)
                addBiasAndActivate(act, dst, count: plane, bias: bias?[c] ?? 0)
            }
        }
    }

    func conv2d(_ g: ConvolutionGeometry, _ act: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, input: ImageShape, kernel: ImageShape, output: ImageShape) throws {
        let k = kernel.channels * kernel.height * kernel.width, columns = input.batch * output.plane
        let cols = try scratch(0, count: k * columns), product = try scratch(1, count: output.channels * columns)
        im2col(cols, x, input, kernelHeight: kernel.height, kernelWidth: kernel.width, g, outHeight: output.height, outWidth: output.width)
        matmul(c: product, a: weight, b: cols, m: output.channels, n: columns, k: k, transposeA: false, transposeB: false)
        channelRowsToImages(act, y, product, bias: bias, batch: input.batch, channels: output.channels, plane: output.plane)
    }

    /// The scatter form: every input pixel's W-weighted copies land on the output (col2im),
    /// each output plane summed by one thread in a fixed order.
    func convTranspose2d(_ g: ConvolutionGeometry, _ act: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                         weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, input: ImageShape, kernel: ImageShape, output: ImageShape) throws {
        let (kh, kw) = (kernel.height, kernel.width)
        let columns = input.batch * input.plane, rows = output.channels * kh * kw
        let xt = try scratch(0, count: input.channels * columns), cols = try scratch(1, count: rows * columns)
        imagesToChannelRows(xt, x, batch: input.batch, channels: input.channels, plane: input.plane)
        matmul(c: cols, a: weight, b: xt, m: rows, n: columns, k: input.channels, transposeA: true, transposeB: false)
        let (h, w, oh, ow) = (input.height, input.width, output.height, output.width)
        // Each input pixel's kh·kw weighted copies are added into a zero-padded output plane
        // through one offset table per (i, j) (the same as im2col's), in the fixed order (i, j),
        // then the pixels; the plane's inside is the output.
        let offsets = PaddedPlane.offsets(g, kernelHeight: kh, kernelWidth: kw, rows: h, columns: w, paddedWidth: ow + 2 * g.padding)
        parallelFor(output.batch * output.channels, grain: max(1, parallelGrain / max(output.plane * kh * kw, 1))) { units in
            var padded = PaddedPlane(height: oh, width: ow, padding: g.padding)
            for unit in units {
                let n = unit / output.channels, co = unit % output.channels
                padded.clear()
                for ij in 0..<kh * kw {
                    padded.scatterAdd(cols + (co * kh * kw + ij) * columns + n * input.plane, offsets: offsets, start: ij * input.plane,
                                      count: input.plane)
                }
                let out = y + unit * output.plane
                padded.store(out)
                addBiasAndActivate(act, out, count: output.plane, bias: bias?[co] ?? 0)
            }
        }
    }

    func conv2dWeightGradient(_ g: ConvolutionGeometry, dw: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                              input: ImageShape, gradient: ImageShape, kernelHeight kh: Int, kernelWidth kw: Int) throws {
        let k = input.channels * kh * kw, columns = input.batch * gradient.plane
        let cols = try scratch(0, count: k * columns), dyt = try scratch(1, count: gradient.channels * columns)
        im2col(cols, x, input, kernelHeight: kh, kernelWidth: kw, g, outHeight: gradient.height, outWidth: gradient.width)
        imagesToChannelRows(dyt, dy, batch: gradient.batch, channels: gradient.channels, plane: gradient.plane)
        matmul(c: dw, a: dyt, b: cols, m: gradient.channels, n: k, k: columns, transposeA: false, transposeB: true)
    }

    /// y[c] = Σ_n Σ_q x[n, c, q], in the order of Kernels/conv.cl's `reduce_channels` on a
    /// 16-lane device: each image's plane in 16 lanes (its remainder in a scalar), the lanes added
    /// pairwise (16 → 8 → 4, then (a + b) + (c + d)), then the planes' totals in image order. Short
    /// running sums: one float over the whole batch, as before, put the last layer's bias
    /// gradient 3e-5 below its float64 value on average (background pixels adding the same tiny
    /// value thousands of times, each rounded the same way).
    func reduceChannels(_ r: Reduction, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape: Shape) {
        let image = ImageShape(shape)
        let scale: Float = r == .mean ? 1 / Float(image.batch * image.plane) : 1
        let plane = image.plane, whole = plane & ~15
        parallelFor(image.channels, grain: max(1, parallelGrain / max(image.batch * plane, 1))) { channels in
            for c in channels {
                var total: Float = 0
                for n in 0..<image.batch {
                    let p = UnsafeRawPointer(x + (n * image.channels + c) * plane)
                    var lanes = SIMD16<Float>()
                    for q in stride(from: 0, to: whole, by: 16) { lanes += p.loadUnaligned(fromByteOffset: 4 * q, as: SIMD16<Float>.self) }
                    var rest: Float = 0
                    for q in whole..<plane { rest += p.load(fromByteOffset: 4 * q, as: Float.self) }
                    let e = lanes.lowHalf + lanes.highHalf, s = e.lowHalf + e.highHalf
                    total += ((s[0] + s[1]) + (s[2] + s[3])) + rest
                }
                y[c] = total * scale
            }
        }
    }
}

/// The positions u in 0..<count whose image coordinate u·stride − padding + offset lies in
/// A zero-padded copy of one image plane ((height + 2p) × (width + 2p)), and the offset tables
/// that map each (i, j) patch position of a convolution's output pixels into it.
struct PaddedPlane {
    let height: Int, width: Int, padding: Int
    var values: [Float]

    init(height: Int, width: Int, padding: Int) {
        (self.height, self.width, self.padding) = (height, width, padding)
        values = [Float](repeating: 0, count: (height + 2 * padding) * (width + 2 * padding))
    }

    var paddedWidth: Int { width + 2 * padding }

    /// offsets[(i·kw + j)·rows·columns + v·columns + u] = (v·s + i)·paddedWidth + u·s + j: where
    /// output pixel (v, u) reads (im2col) or adds (the transposed convolution) its (i, j) tap.
    static func offsets(_ g: ConvolutionGeometry, kernelHeight kh: Int, kernelWidth kw: Int, rows: Int, columns: Int, paddedWidth: Int) -> [Int32] {
        var table = [Int32](repeating: 0, count: kh * kw * rows * columns)
        var k = 0
        for i in 0..<kh {
            for j in 0..<kw {
                for v in 0..<rows {
                    for u in 0..<columns {
                        table[k] = Int32((v * g.stride + i) * paddedWidth + u * g.stride + j)
                        k += 1
                    }
                }
            }
        }
        return table
    }

    /// Copies a height × width plane into the inside (the border stays zero).
    mutating func load(_ plane: UnsafePointer<Float>) {
        let (w, pw, p) = (width, paddedWidth, padding)
        values.withUnsafeMutableBufferPointer { v in
            for r in 0..<height { (v.baseAddress! + (r + p) * pw + p).update(from: plane + r * w, count: w) }
        }
    }

    mutating func clear() { values.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }

    /// dst[q] = values[offsets[start + q]] for q < count.
    func gather(into dst: UnsafeMutablePointer<Float>, offsets: [Int32], start: Int, count: Int) {
        values.withUnsafeBufferPointer { v in
            offsets.withUnsafeBufferPointer { o in
                let (src, table) = (v.baseAddress!, o.baseAddress! + start)
                for q in 0..<count { dst[q] = src[Int(table[q])] }
            }
        }
    }

    /// values[offsets[start + q]] += src[q] for q < count, in order of q.
    mutating func scatterAdd(_ src: UnsafePointer<Float>, offsets: [Int32], start: Int, count: Int) {
        offsets.withUnsafeBufferPointer { o in
            values.withUnsafeMutableBufferPointer { v in
                let (dst, table) = (v.baseAddress!, o.baseAddress! + start)
                for q in 0..<count { dst[Int(table[q])] += src[q] }
            }
        }
    }

    /// out[r·width + c] = the inside value (r, c).
    func store(_ out: UnsafeMutablePointer<Float>) {
        let (w, pw, p) = (width, paddedWidth, padding)
        values.withUnsafeBufferPointer { v in
            for r in 0..<height { (out + r * w).update(from: v.baseAddress! + (r + p) * pw + p, count: w) }
        }
    }
}
