import COpenCL
import Engine

/// Every `__kernel` in Kernels/, by its name. Each has exactly one launcher: a method of
/// `OpenCLBackend` with the same name, in the Swift file named after its .cl file
/// (`matmul_nn` in MatmulLaunchers.swift), which alone enqueues it. A test checks this list
/// against the built program's CL_PROGRAM_KERNEL_NAMES and against the launcher files.
enum Kernel: String, CaseIterable {
    // matmul.cl
    case matmul_nn, matmul_tn, matmul_nn_narrow, matmul_tn_narrow, matmul_nt, linear_nt, matmul_nt_dots, sum_partials, matmul_generic
    case matmul_nn_relu_gradient, matmul_nn_relu_gradient_narrow
    // transpose.cl
    case transpose, matmul_nt_panel
    // gemm.cl
    case gemm_tiled
    // elementwise.cl
    case activation_identity, activation_relu, activation_leaky_relu, activation_sigmoid, activation_tanh, activation_softplus
    case activation_gradient_identity, activation_gradient_relu, activation_gradient_leaky_relu, activation_gradient_sigmoid
    case activation_gradient_tanh, activation_gradient_softplus
    case add, broadcast, gather, gather_palette
    case reduce_rows, reduce_partial, reduce_final, logsumexp_rows, logsumexp_partial, logsumexp_final
    // sampling.cl
    case philox_bits, random_normal, reparameterize, reparameterize_gradient
    // loss.cl
    case vae_loss_rows_bernoulli, vae_loss_rows_bernoulli_gradient, vae_loss_pixels_gaussian, vae_loss_pixels_calibrated, vae_loss_terms, vae_loss_total, vae_loss_gradient_pixels, vae_loss_gradient_bernoulli, vae_loss_gradient_latents
    case vae_loss_pixels_feature_variance, calibrated_feature_variances, squared_error_rows, calibrated_variance
    // conv.cl
    case im2col, col2im, images_to_channel_rows, channel_rows_to_images, reduce_channels
    // optim.cl
    case adam, adam_summing_rows, adam_transposed_product, adam_transposed_product_narrow, sgd

    /// The kernel structures that launch this kernel: the products differ (register blocks
    /// for CPU devices, `gemm_tiled` for GPUs), the rest are shared.
    var structures: [KernelStructure] {
        switch self {
        case .gemm_tiled: [.gpu]
        case .matmul_nn, .matmul_tn, .matmul_nn_narrow, .matmul_tn_narrow, .matmul_nt, .linear_nt, .matmul_nt_dots, .sum_partials, .transpose,
             .matmul_nt_panel, .matmul_generic, .adam_transposed_product, .adam_transposed_product_narrow, .matmul_nn_relu_gradient,
             .matmul_nn_relu_gradient_narrow: [.cpu]
        default: KernelStructure.allCases
        }
    }
}

/// A kernel argument.
enum KernelArgument {
    case buffer(CLBuffer)
    case int(Int32)
    case uint(UInt32)
    case float(Float)
    /// Local memory of this many bytes (a `__local` pointer argument).
    case local(Int)
}

extension OpenCLBackend {
    /// `value` as a kernel `int`; a size past Int32 is an error naming `what`.
    func int(_ value: Int, _ what: String) throws(OpenCLError) -> KernelArgument {
        guard value <= Int(Int32.max) else { throw .sizeTooLarge(what: what, value: value) }
        return .int(Int32(value))
    }

    /// Sizes as kernel `int`s (each through `int(_:_:)`).
    func ints(_ what: String, _ values: [Int]) throws(OpenCLError) -> [KernelArgument] {
        try values.map { (v) throws(OpenCLError) -> KernelArgument in try int(v, what) }
    }

    /// Values per work-item of the data-moving kernels (im2col, col2im, the channel-row
    /// transposes, gather, broadcast) along a line of `extent` values: all of it on CPU devices
    /// (PoCL's cost per work-item outweighed a copy of a few values), one on GPUs, whose
    /// neighbouring work-items should touch neighbouring values.
    func perItem(_ extent: Int) -> Int { tiles.gemmTiles == nil ? extent : 1 }

    /// The work-group of a 1-D range of `items` work-items that each loop over many values (a
    /// column, row or channel each): on CPU devices small enough that every compute unit gets
    /// many groups; on GPUs the usual `local1D`. PoCL's threads take half of the groups left at
    /// a time (the first thread 1 + n/2 of n), so with few groups one thread works on while the
    /// other has gone to sleep, and waking it for the next command takes ~20 µs: the loss rows
    /// of a batch of 128 in 8 groups of 16 took 110 µs and the next launch waited 25 µs; in 128
    /// groups of one, 99 µs and 9 µs (PoCL's command trace, medians over an epoch). Groups of
    /// 64 over the 25 column blocks of a bias gradient left one thread idle throughout.
    func loopingGroup(items: Int) -> [Int] {
        guard tiles.gemmTiles == nil else { return [tiles.local1D] }
        return [max(1, min(tiles.local1D, items / (32 * max(device.computeUnits, 1))))]
    }

    /// Sets the arguments and enqueues `kernel` over `global` work-items (rounded up to a
    /// multiple of `local`; kernels guard their range). Called only by the launchers.
    func enqueue(_ kernel: Kernel, _ arguments: [KernelArgument], global: [Int], local: [Int]) throws(OpenCLError) {
        let k = try handle(kernel)
        let name = kernel.rawValue
        for (i, argument) in arguments.enumerated() {
            let index = cl_uint(i)
            let status: cl_int
            switch argument {
            case .buffer(let b):
                var mem: cl_mem? = b.mem
                status = clSetKernelArg(k.handle, index, MemoryLayout<cl_mem>.size, &mem)
            case .int(var v): status = clSetKernelArg(k.handle, index, 4, &v)
            case .uint(var v): status = clSetKernelArg(k.handle, index, 4, &v)
            case .float(var v): status = clSetKernelArg(k.handle, index, 4, &v)
            case .local(let bytes): status = clSetKernelArg(k.handle, index, bytes, nil)
            }
            try check(status, "clSetKernelArg(\(name), \(i))")
        }
        var globalSize = zip(global, local).map { g, l in max(1, (g + l - 1) / l) * l }
        var localSize = local
        try check(clEnqueueNDRangeKernel(runtime.queue, k.handle, cl_uint(global.count), nil, &globalSize, &localSize, 0, nil, nil),
                  "clEnqueueNDRangeKernel(\(name))")
    }

    /// The names of the kernels in the built program (CL_PROGRAM_KERNEL_NAMES), for the test
    /// that binds them to `Kernel`.
    func programKernelNames() throws(OpenCLError) -> Set<String> {
        var size = 0
        try check(clGetProgramInfo(program.handle, cl_program_info(CL_PROGRAM_KERNEL_NAMES), 0, nil, &size), "clGetProgramInfo")
        var text = [CChar](repeating: 0, count: size + 1)
        try check(clGetProgramInfo(program.handle, cl_program_info(CL_PROGRAM_KERNEL_NAMES), size, &text, nil), "clGetProgramInfo")
        let names = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Set(names.split(separator: ";").map { String($0) })
    }
}
