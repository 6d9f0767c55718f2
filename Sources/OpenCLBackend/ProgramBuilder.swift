import COpenCL
import CZlib
import Foundation

/// Builds the kernel program once per backend and keeps the device's compiled binary on disk,
/// keyed by device, driver, build options and source, so the next process skips the compiler.
///
/// The cache folder is `$SWIFT_VAE_KERNEL_CACHE`, else `$XDG_CACHE_HOME/swift-vae/kernels`, else
/// `~/.cache/swift-vae/kernels`. A missing or stale entry just means a fresh build. Each entry
/// starts with its length and a CRC-32 of its bytes (see `CacheEntry`); an entry that does not
/// match them, or that the driver rejects, is deleted and rebuilt, and `cacheNote` says so.
struct ProgramBuilder {
    let context: cl_context
    let device: OpenCLDevice

    /// The kernel sources embedded at build time, in the order they are concatenated
    /// (common.cl first: the others use its helpers).
    static let sources: [(name: String, bytes: [UInt8])] = [
        ("common.cl", PackageResources.common_cl),
        ("matmul.cl", PackageResources.matmul_cl),
        ("transpose.cl", PackageResources.transpose_cl),
        ("gemm.cl", PackageResources.gemm_cl),
        ("elementwise.cl", PackageResources.elementwise_cl),
        ("sampling.cl", PackageResources.sampling_cl),
        ("loss.cl", PackageResources.loss_cl),
        ("conv.cl", PackageResources.conv_cl),
        ("optim.cl", PackageResources.optim_cl),
    ]

    static var combinedSource: String {
        sources.map { "#line 1 \"\($0.name)\"\n" + String(decoding: $0.bytes, as: UTF8.self) }.joined(separator: "\n")
    }

    static var cacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["SWIFT_VAE_KERNEL_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("swift-vae/kernels") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swift-vae/kernels")
    }

    /// Whether the last `build` loaded a cached binary.
    private(set) var usedCache = false
    /// One line for the user when the last `build` found a damaged cache entry and rebuilt it,
    /// or could not write the cache.
    private(set) var cacheNote: String?

    mutating func build(source: String = Self.combinedSource, options: String) throws(OpenCLError) -> CLProgram {
        let key = fnv1a([device.name, device.driverVersion, device.platformVersion, options, source].joined(separator: "\u{1}"))
        let file = Self.cacheDirectory.appendingPathComponent(String(format: "%016llx.bin", key))
        usedCache = false
        cacheNote = nil
        if FileManager.default.fileExists(atPath: file.path) {
            let problem: String
            let stored = try? Data(contentsOf: file)
            switch stored.map(CacheEntry.binary(from:)) ?? .failure(CacheEntry.Damage(text: "it cannot be read as a file")) {
            case .success(let binary):
                if let program = fromBinary(binary, options: options) {
                    usedCache = true
                    return program
                }
                problem = "the OpenCL driver rejected it"
            case .failure(let reason):
                problem = reason.text
            }
            try? FileManager.default.removeItem(at: file)
            cacheNote = "the cached kernel binary \(file.path) was damaged (\(problem)); deleted it and rebuilt the kernels"
        }
        var status: cl_int = 0
        let program: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = strlen(text)
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let program, status == CL_SUCCESS else { throw .call("clCreateProgramWithSource", status) }
        let wrapped = CLProgram(program)
        var deviceID: cl_device_id? = device.id
        let built = clBuildProgram(program, 1, &deviceID, options, nil, nil)
        guard built == CL_SUCCESS else {
            throw .buildFailed(device: device.summary, log: buildLog(program) + (built == -11 ? "" : "\n(\(codeName(built)))"))
        }
        if let binary = binary(of: program) { store(CacheEntry.wrap(binary), at: file) }
        return wrapped
    }

    private func fromBinary(_ binary: Data, options: String) -> CLProgram? {
        var status: cl_int = 0
        var binaryStatus: cl_int = 0
        var deviceID: cl_device_id? = device.id
        var length = binary.count
        let program: cl_program? = binary.withUnsafeBytes { raw in
            var pointer: UnsafePointer<UInt8>? = raw.bindMemory(to: UInt8.self).baseAddress
            return clCreateProgramWithBinary(context, 1, &deviceID, &length, &pointer, &binaryStatus, &status)
        }
        guard let program, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else { return nil }
        let wrapped = CLProgram(program)
        guard clBuildProgram(program, 1, &deviceID, options, nil, nil) == CL_SUCCESS else { return nil }
        return wrapped
    }

    private func buildLog(_ program: cl_program) -> String {
        var size = 0
        guard clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size) == CL_SUCCESS else {
            return "(no build log)"
        }
        var log = [CChar](repeating: 0, count: size + 1)
        clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &log, nil)
        return String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func binary(of program: cl_program) -> Data? {
        var size = 0
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil) == CL_SUCCESS,
              size > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: size)
        let ok = bytes.withUnsafeMutableBufferPointer { buffer -> Bool in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>>.size, &pointer, nil) == CL_SUCCESS
        }
        return ok ? Data(bytes) : nil
    }

    /// Written to a temporary file and renamed, so a concurrent reader never sees half a binary.
    /// A cache that cannot be written costs only the next start's build time, so a failure
    /// here is a note (naming the folder and where it comes from), not an error.
    private mutating func store(_ binary: Data, at file: URL) {
        let dir = file.deletingLastPathComponent()
        let temporary = dir.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).tmp")
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try binary.write(to: temporary)
            guard rename(temporary.path, file.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            let origin = ProcessInfo.processInfo.environment["SWIFT_VAE_KERNEL_CACHE"].map { _ in " (from SWIFT_VAE_KERNEL_CACHE)" } ?? ""
            cacheNote = (cacheNote.map { $0 + "; " } ?? "")
                + "the kernel cache folder \(dir.path)\(origin) cannot be written (\(error.localizedDescription)); kernels will be rebuilt at each start"
        }
    }
}

/// A kernel-cache file: the magic "SVKC1\0\0\0", the binary's length (UInt64) and CRC-32
/// (UInt32, then 4 zero bytes), all little-endian, then the binary. A file cut short, grown or
/// garbled fails the check before any byte of it reaches the driver (which may crash on one).
enum CacheEntry {
    static let magic = Array("SVKC1".utf8) + [0, 0, 0]
    static let headerSize = 24

    struct Damage: Error { let text: String }

    static func wrap(_ binary: Data) -> Data {
        var out = Data(magic)
        withUnsafeBytes(of: UInt64(binary.count).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(checksum(binary)).littleEndian) { out.append(contentsOf: $0) }
        return out + binary
    }

    static func binary(from file: Data) -> Result<Data, Damage> {
        let bytes = [UInt8](file)
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else { return .failure(Damage(text: "it lacks the entry header")) }
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[8 + $1]) << (8 * UInt64($1)) }
        let stored = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[16 + $1]) << (8 * UInt64($1)) }
        guard length == UInt64(bytes.count - headerSize) else {
            return .failure(Damage(text: "it holds \(bytes.count - headerSize) bytes of binary, its header says \(length)"))
        }
        let binary = Data(bytes[headerSize...])
        guard UInt64(checksum(binary)) == stored else { return .failure(Damage(text: "its CRC-32 does not match its bytes")) }
        return .success(binary)
    }

    static func checksum(_ data: Data) -> UInt32 {
        data.withUnsafeBytes { raw in
            UInt32(crc32(0, raw.bindMemory(to: UInt8.self).baseAddress, uInt(raw.count)))
        }
    }
}

/// 64-bit FNV-1a: a cache key, not a security measure.
func fnv1a(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return hash
}
