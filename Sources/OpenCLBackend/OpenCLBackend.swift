import COpenCL
import Engine
import Foundation

/// The OpenCL backend: one context and in-order queue on one device, the kernels of Kernels/
/// built once, and every op enqueued without waiting. Only `read` (and `synchronize`) waits.
public final class OpenCLBackend: Backend {
    public let device: OpenCLDevice
    /// Whether the kernels came from the on-disk binary cache rather than the compiler.
    public let loadedCachedKernels: Bool
    /// A line for the user when a damaged kernel-cache entry was deleted and rebuilt, or the
    /// cache folder cannot be written.
    public private(set) var kernelCacheNote: String?
    let runtime: CLContext
    let program: CLProgram
    let tiles: TileConfiguration
    private var kernels: [Kernel: CLKernel] = [:]
    private var scratch: [Int: CLBuffer] = [:]

    /// Opens a device: `selector` is an index into `OpenCLDevice.all()` or part of a device
    /// name; nil prefers a GPU.
    /// The device's tuned configuration (`vae tune`) is used when one is stored for it.
    public convenience init(device selector: String? = nil) throws(OpenCLError) {
        let device = try OpenCLDevice.select(selector)
        let (tuning, note) = KernelTuning.stored(for: device)
        try self.init(device: device, tiles: tuning.map { TileConfiguration($0, device: device) } ?? TileConfiguration(for: device))
        self.tuning = tuning
        if let note { kernelCacheNote = [kernelCacheNote, note].compactMap { $0 }.joined(separator: "; ") }
    }

    /// A backend with the kernel configuration `tuning` (what `vae tune` measures).
    public convenience init(device: OpenCLDevice, tuning: KernelTuning) throws(OpenCLError) {
        try self.init(device: device, tiles: TileConfiguration(tuning, device: device))
        self.tuning = tuning
    }

    /// The tuned configuration in use, nil for the device type's default.
    public private(set) var tuning: KernelTuning?

    /// A backend whose kernels have the structure `structure` whatever the device's type (the
    /// kernel check and the tests run the GPU structure on CPU devices); nil picks by type.
    /// `registerWidth` (8 or 16) overrides the CPU structure's vector width, which otherwise
    /// follows the device (so a check can run both forms on one device).
    public convenience init(device: OpenCLDevice, structure: KernelStructure?, registerWidth: Int? = nil) throws(OpenCLError) {
        var tiles = switch structure {
        case nil: TileConfiguration(for: device)
        case .cpu: TileConfiguration.cpu(for: device)
        case .gpu: TileConfiguration(gpuFor: device)
        }
        if let registerWidth, tiles.gemmTiles == nil { tiles.setRegisterWidth(registerWidth) }
        try self.init(device: device, tiles: tiles)
    }

    /// Floats per vector of the CPU structure's register tiles (8 or 16), nil for the GPU structure.
    public var registerWidth: Int? { tiles.gemmTiles == nil ? tiles.registerWidth : nil }

    /// The structure this backend's kernels were built with.
    public var structure: KernelStructure { tiles.gemmTiles == nil ? .cpu : .gpu }

    /// Floats per global load of `gemm_tiled`'s tiles (the GPU structure), nil for the CPU structure.
    public var gemmLoadWidth: Int? { tiles.gemmTiles?.vw }

    /// The `__kernel`s of Kernels/ that a backend of `structure` launches, by name.
    public static func kernelNames(for structure: KernelStructure) -> [String] {
        Kernel.allCases.filter { $0.structures.contains(structure) }.map(\.rawValue)
    }

    /// With SWIFT_VAE_POISON_BUFFERS set, every new buffer is filled with NaN, so a kernel that
    /// reads memory nothing wrote shows it in its results (a check for any device, where
    /// Oclgrind's checker is too slow or absent).
    let poisonsBuffers = ProcessInfo.processInfo.environment["SWIFT_VAE_POISON_BUFFERS"] != nil

    /// The kernels this backend has launched so far (each is created on its first launch).
    public var launchedKernelNames: Set<String> { Set(kernels.keys.map(\.rawValue)) }

    /// A backend with a chosen kernel configuration (tests run the GPU one on PoCL).
    init(device: OpenCLDevice, tiles: TileConfiguration) throws(OpenCLError) {
        self.device = device
        runtime = try CLContext(device: device.id)
        self.tiles = tiles
        var builder = ProgramBuilder(context: runtime.context, device: device)
        program = try builder.build(options: tiles.buildOptions(for: device))
        loadedCachedKernels = builder.usedCache
        kernelCacheNote = builder.cacheNote
    }

    public var deviceDescription: String { "OpenCL: \(device.summary)" + (tuning.map { "; tuned kernels: \($0)" } ?? "") }
    public var memoryLimits: MemoryLimits {
        MemoryLimits(maxBufferBytes: Int(clamping: device.maxAllocation), totalBytes: Int(clamping: device.globalMemory),
                     owner: "OpenCL device \(device.name)")
    }

    // MARK: Memory

    public func allocate(bytes: Int) throws -> any DeviceBuffer { try buffer(bytes: bytes) }

    /// A new device buffer of at least `bytes` (4 or more), NaN-filled with SWIFT_VAE_POISON_BUFFERS.
    func buffer(bytes: Int) throws(OpenCLError) -> CLBuffer {
        var status: cl_int = 0
        let size = max(bytes, 4)
        guard let mem = clCreateBuffer(runtime.context, cl_mem_flags(CL_MEM_READ_WRITE), size, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError.allocationFailed(bytes: size, device: device.summary, maxAllocation: device.maxAllocation,
                                               globalMemory: device.globalMemory, code: status)
        }
        let buffer = CLBuffer(mem: mem, byteCount: size)
        if poisonsBuffers {
            var nan = Float.nan
            try check(clEnqueueFillBuffer(runtime.queue, mem, &nan, 4, 0, size / 4 * 4, 0, nil, nil), "clEnqueueFillBuffer")
        }
        return buffer
    }

    func clBuffer(_ b: any DeviceBuffer) throws -> CLBuffer {
        guard let c = b as? CLBuffer else { throw BackendError.foreignBuffer(backend: "OpenCL") }
        return c
    }

    public func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, offset: Int) throws {
        let b = try clBuffer(buffer)
        try BackendError.checkRange("write", offset: offset, count: bytes.count, in: b)
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        // Blocking: the host memory may be gone once this returns.
        try check(clEnqueueWriteBuffer(runtime.queue, b.mem, cl_bool(CL_TRUE), offset, bytes.count, base, 0, nil, nil),
                  "clEnqueueWriteBuffer")
    }

    public func read(_ buffer: any DeviceBuffer, offset: Int, into bytes: UnsafeMutableRawBufferPointer) throws {
        let b = try clBuffer(buffer)
        try BackendError.checkRange("read", offset: offset, count: bytes.count, in: b)
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        try check(clEnqueueReadBuffer(runtime.queue, b.mem, cl_bool(CL_TRUE), offset, bytes.count, base, 0, nil, nil),
                  "clEnqueueReadBuffer")
    }

    public func synchronize() throws {
        try check(clFinish(runtime.queue), "clFinish")
    }

    /// Scratch buffer `slot` of at least `bytes`, reused by successive ops (the queue is in
    /// order; a replaced buffer is released by OpenCL only after the work that uses it).
    func scratchBuffer(slot: Int = 0, bytes: Int) throws(OpenCLError) -> CLBuffer {
        if let s = scratch[slot], s.byteCount >= bytes { return s }
        let fresh = try buffer(bytes: bytes)
        scratch[slot] = fresh
        return fresh
    }

    // MARK: Launching

    /// The kernel object of `kernel`, created on first use.
    func handle(_ kernel: Kernel) throws(OpenCLError) -> CLKernel {
        if let k = kernels[kernel] { return k }
        var status: cl_int = 0
        guard let handle = clCreateKernel(program.handle, kernel.rawValue, &status), status == CL_SUCCESS else {
            throw .call("clCreateKernel(\(kernel.rawValue))", status)
        }
        let k = CLKernel(handle)
        kernels[kernel] = k
        return k
    }
}

/// The two structures of the kernels, chosen per device at build time: register blocks and no
/// local memory for CPU devices, local-memory tiles (`gemm_tiled`) for GPUs.
public enum KernelStructure: String, CaseIterable, Codable, Sendable {
    case cpu, gpu
}

/// Work-group shapes and tile sizes per device type, passed to the compiler as -D options.
struct TileConfiguration {
    /// Rows of C per work-item in the NN/TN kernels (NN_ROWS): 4, 6 or 8.
    var nnRows: Int
    /// Work-group shape of the 2-D matrix kernels (columns, rows).
    let local2D: [Int]
    /// Work-group size of the 1-D kernels.
    let local1D: Int
    /// Polynomial exp/log on CPU devices (see Kernels/common.cl).
    let polynomialMath: Bool
    /// The local-memory GEMM's tiles (`gemm_tiled`, which then runs every product), or nil for
    /// the register-blocked kernels of CPU devices.
    let gemmTiles: GEMMTiles?
    /// Floats per vector of the register-blocked kernels (REGISTER_WIDTH): 16 or 8.
    var registerWidth = 8
    /// Rows of A per work-item in the NT kernels (NT_ROWS in Kernels/matmul.cl): 4 with 16-float
    /// vectors (32 registers: NT 128×784×400 on PoCL ~195 → ~225 GFLOP/s), else 3.
    var ntRows: Int { registerWidth == 16 ? 4 : 3 }
    /// Rows of C per work-item in the NN/TN kernels for a C of `columns` columns: NN_ROWS, or
    /// twice that when C is narrower than two vectors (one vector per row; see `matmul_tile`).
    func nnTileRows(columns: Int) -> Int { columns < 2 * registerWidth ? 2 * nnRows : nnRows }
    /// Whether a C of `rows` × `columns` holds at least one NN/TN register tile (the tiles are
    /// shifted back inside at the edges, so any larger size works).
    func holdsNNTile(rows: Int, columns: Int) -> Bool { rows >= nnTileRows(columns: columns) && columns >= registerWidth }
    /// Work-items across `columns` columns of C in the NN/TN kernels: two vectors each, or one
    /// when the matrix is narrower than two (see `matmul_tile`).
    func nnTiles(columns: Int) -> Int {
        let each = columns < 2 * registerWidth ? registerWidth : 2 * registerWidth
        return (columns + each - 1) / each
    }

    /// PoCL and other CPU devices: wide register tiles, and small groups so every core gets many.
    static let cpu = TileConfiguration(nnRows: 6, local2D: [1, 2], local1D: 64, polynomialMath: true, gemmTiles: nil)

    /// `cpu` with vectors of 16 floats where the device prefers them (AVX-512: PoCL keeps float8
    /// in 256-bit registers, and float16 doubles the products' speed there; measured
    /// NN 128×400×784 114 → 166 GFLOP/s), else 8 (16-float tiles would spill 16 registers).
    /// With 16-float vectors the NN/TN tiles take 8 rows (16 of the 32 registers hold C; on
    /// PoCL, best of interleaved runs: NN 1000×784×400 ~270 → ~300 GFLOP/s, NN 128×784×400
    /// ~260 → ~295, TN 784×400×128 ~245 → ~265, the MLP step 2.81 → 2.76 ms).
    static func cpu(for device: OpenCLDevice) -> TileConfiguration {
        var c = cpu
        c.setRegisterWidth(device.preferredVectorWidth >= 16 ? 16 : 8)
        return c
    }

    /// The CPU structure's vector width (16, or else 8) and the NN/TN tile rows that go with it.
    mutating func setRegisterWidth(_ width: Int) {
        registerWidth = width == 16 ? 16 : 8
        nnRows = registerWidth == 16 ? 8 : 6
    }
    /// GPUs with the usual limits (256 work-items, 16 KiB or more of local memory): 64×64 tiles
    /// of C, 16 deep, 4×4 per work-item; the hardware's exp and log. Tested for correctness on
    /// PoCL (and its barriers); its speed on a GPU is not measured yet.
    static let gpu = TileConfiguration(nnRows: 4, local2D: [8, 8], local1D: 128, polynomialMath: false,
                                       gemmTiles: GEMMTiles(tm: 64, tn: 64, tk: 16, wm: 4, wn: 4, vw: 4))

    init(nnRows: Int, local2D: [Int], local1D: Int, polynomialMath: Bool, gemmTiles: GEMMTiles?) {
        self.nnRows = nnRows
        self.local2D = local2D
        self.local1D = local1D
        self.polynomialMath = polynomialMath
        self.gemmTiles = gemmTiles
    }

    /// The configuration for a device: CPU devices get `cpu`; others `gpu`, its GEMM tiles
    /// shrunk until the work-group and local memory fit the device's limits.
    init(for device: OpenCLDevice) {
        self.init(KernelTuning.standard(for: device), device: device)
    }

    /// The GPU configuration, its GEMM tiles shrunk to the device's limits.
    init(gpuFor device: OpenCLDevice) {
        let g = TileConfiguration.gpu
        self.init(nnRows: g.nnRows, local2D: g.local2D, local1D: min(g.local1D, device.maxWorkGroupSize), polynomialMath: false,
                  gemmTiles: GEMMTiles.fitting(device))
    }

    /// `-cl-denorms-are-zero`: denormal floats count as zero, as in the CPU backend (which sets
    /// FTZ/DAZ); without it PoCL slowed down epoch after epoch as Adam's moments decayed into
    /// denormals (default model: 2.3, 2.7, 3.0, 2.9 s per epoch; with it 2.3 s each, the same losses).
    /// -DHARDWARE_FMA where the device fuses multiply-adds (Kernels/common.cl's `mul_add`).
    func buildOptions(for device: OpenCLDevice) -> String {
        (device.hasHardwareFMA ? "-DHARDWARE_FMA " : "") + "-cl-mad-enable -cl-denorms-are-zero -DNN_ROWS=\(nnRows) -DREGISTER_WIDTH=\(registerWidth)" + (polynomialMath ? " -DPOLY_MATH" : "") + (gemmTiles.map { " " + $0.buildOptions } ?? "")
            + " " + KernelCodes.buildOptions
    }
}

/// Tiles of `gemm_tiled`: a work-group computes tm × tn of C in slices tk deep, each work-item
/// wm × wn of it; the work-group is (tn / wn) × (tm / wm).
struct GEMMTiles: Equatable {
    let tm, tn, tk, wm, wn: Int
    /// Floats per global load of the tiles (vloadN along each operand's contiguous axis): 1, 2 or 4.
    var vw = 1

    var workGroup: [Int] { [tn / wn, tm / wm] }
    /// Local memory of the two padded slices.
    var localBytes: Int { 4 * tk * (tm + 1 + tn + 1) }
    /// The tile sizes as -D options of `gemm_tiled`.
    var buildOptions: String { "-DGEMM_TM=\(tm) -DGEMM_TN=\(tn) -DGEMM_TK=\(tk) -DGEMM_WM=\(wm) -DGEMM_WN=\(wn) -DGEMM_VW=\(vw)" }

    /// The largest of 64×64, 32×32 and 16×16 tiles (16 deep, 4×4 per work-item; 8 deep for the
    /// smallest) whose work-group and local memory the device allows, loading `vectorWidth`
    /// floats at a time (rounded down to 1, 2 or 4).
    static func fitting(maxWorkGroup: Int, localBytes: Int, vectorWidth: Int = 1) -> GEMMTiles {
        let vw = vectorWidth >= 4 ? 4 : vectorWidth >= 2 ? 2 : 1
        let candidates = [GEMMTiles(tm: 64, tn: 64, tk: 16, wm: 4, wn: 4, vw: vw), GEMMTiles(tm: 32, tn: 32, tk: 16, wm: 4, wn: 4, vw: vw),
                          GEMMTiles(tm: 16, tn: 16, tk: 8, wm: 4, wn: 4, vw: vw)]
        return candidates.first { $0.workGroup[0] * $0.workGroup[1] <= maxWorkGroup && $0.localBytes <= localBytes } ?? candidates[2]
    }

    /// `fitting` for a device's limits and preferred float vector width.
    static func fitting(_ device: OpenCLDevice) -> GEMMTiles {
        fitting(maxWorkGroup: device.maxWorkGroupSize, localBytes: Int(clamping: device.localMemory), vectorWidth: device.preferredVectorWidth)
    }
}
