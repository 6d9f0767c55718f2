import CBLAS
import Engine

/// Convolutions lowered to one OpenBLAS GEMM over the whole batch (im2col): the twins of
/// Kernels/conv.cl. Patches and transposed copies live in the backend's scratch memory.
extension CPUBackend {
    /// cols[(c·kh + i)·kw + j, n·P + v·Wo + u] = x[n, c, v·s − p + i, u·s − p + j] (0 outside x),
    /// P = Ho·Wo: every output pixel's patch as one column.
    func im2col(_ cols: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ input: ImageShape,
                kernelHeight kh: Int, kernelWidth kw: Int, _ g: ConvolutionGeometry, outHeight: Int, outWidth: Int) {
        let (n, c, h, w) = (input.batch, input.channels, input.height, input.width)
        let plane = outHeight * outWidth, columns = n * plane
        // One unit per (image, channel): its plane stays in L1 while the kh·kw rows it feeds are written.
        parallelFor(n * c, grain: max(1, parallelGrain / max(plane * kh * kw, 1))) { units in
            for unit in units {
                let image = unit / c, channel = unit % c
                let src = x + unit * h * w
                for i in 0..<kh {
                    let vs = insideRange(i, g, bound: h, count: outHeight)
                    for j in 0..<kw {
                        let dst = cols + ((channel * kh + i) * kw + j) * columns + image * plane
                        let us = insideRange(j, g, bound: w, count: outWidth)
                        dst.update(repeating: 0, count: vs.lowerBound * outWidth)
                        for v in vs {
                            let out = dst + v * outWidth, line = src + (v * g.stride - g.padding + i) * w + j - g.padding
                            out.update(repeating: 0, count: us.lowerBound)
                            if g.stride == 1 {
                                (out + us.lowerBound).update(from: line + us.lowerBound, count: us.count)
                            } else if g.stride == 2 {
                                for u in us { out[u] = line[2 * u] }
                            } else {
                                for u in us { out[u] = line[u * g.stride] }
                            }
                            (out + us.upperBound).update(repeating: 0, count: outWidth - us.upperBound)
                        }
                        (dst + vs.upperBound * outWidth).update(repeating: 0, count: (outHeight - vs.upperBound) * outWidth)
                    }
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
        withActivation(act) { f in
            parallelFor(batch * channels, grain: max(1, parallelGrain / max(plane, 1))) { units in
                for unit in units {
                    let n = unit / channels, c = unit % channels
                    let src = rows + c * batch * plane + n * plane, dst = images + unit * plane
                    let b = bias?[c] ?? 0
                    for q in 0..<plane { dst[q] = f(src[q] + b) }
                }
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
        withActivation(act) { f in
            parallelFor(output.batch * output.channels, grain: max(1, parallelGrain / max(output.plane * kh * kw, 1))) { units in
                for unit in units {
                    let n = unit / output.channels, co = unit % output.channels
                    let out = y + unit * output.plane
                    out.update(repeating: 0, count: output.plane)
                    for i in 0..<kh {
                        let vs = insideRange(i, g, bound: oh, count: h)
                        for j in 0..<kw {
                            let src = cols + ((co * kh + i) * kw + j) * columns + n * input.plane
                            let us = insideRange(j, g, bound: ow, count: w)
                            for v in vs {
                                let line = out + (v * g.stride - g.padding + i) * ow + j - g.padding, row = src + v * w
                                for u in us { line[u * g.stride] += row[u] }
                            }
                        }
                    }
                    let b = bias?[co] ?? 0
                    for q in 0..<output.plane { out[q] = f(out[q] + b) }
                }
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

    /// y[c] = Σ_n Σ_q x[n, c, q], summed in a fixed order.
    func reduceChannels(_ r: Reduction, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape: Shape) {
        let image = ImageShape(shape)
        let scale: Float = r == .mean ? 1 / Float(image.batch * image.plane) : 1
        parallelFor(image.channels, grain: max(1, parallelGrain / max(image.batch * image.plane, 1))) { channels in
            for c in channels {
                var total: Float = 0
                for n in 0..<image.batch {
                    let plane = x + (n * image.channels + c) * image.plane
                    for q in 0..<image.plane { total += plane[q] }
                }
                y[c] = total * scale
            }
        }
    }
}

/// The positions u in 0..<count whose image coordinate u·stride − padding + offset lies in
/// 0..<bound: the part of a patch row (or of a transposed convolution's scatter) that touches
/// the image, so the loops over it need no bounds test.
@inline(__always)
func insideRange(_ offset: Int, _ g: ConvolutionGeometry, bound: Int, count: Int) -> Range<Int> {
    let first = g.padding - offset  // u·stride ≥ first
    let lower = first <= 0 ? 0 : (first + g.stride - 1) / g.stride
    let last = bound - 1 + g.padding - offset  // u·stride ≤ last
    let upper = last < 0 ? 0 : min(count, last / g.stride + 1)
    return min(lower, upper)..<upper
}
