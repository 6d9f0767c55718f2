import COpenCL
import Foundation

/// Serializes platform discovery: the ICD loader's first-time initialization is not thread-safe
/// (concurrent first calls were seen to report no platform).
let discoveryLock = NSLock()

/// An OpenCL device and what it offers, as `vae devices` lists it.
public struct OpenCLDevice: Sendable, CustomStringConvertible {
    public let platformName: String
    public let platformVersion: String
    public let name: String
    public let vendor: String
    public let driverVersion: String
    public let openCLCVersion: String
    public let isGPU: Bool
    public let isCPU: Bool
    public let computeUnits: Int
    public let globalMemory: UInt64
    public let localMemory: UInt64
    public let maxAllocation: UInt64
    public let maxWorkGroupSize: Int
    /// CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT: the float vector width the device prefers.
    public let preferredVectorWidth: Int
    /// CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG: the device fuses a·b + c in hardware, so the
    /// kernels use `fma` (see `mul_add` in Kernels/common.cl).
    public let hasHardwareFMA: Bool
    nonisolated(unsafe) let id: cl_device_id
    nonisolated(unsafe) let platform: cl_platform_id

    public var typeName: String { isGPU ? "GPU" : isCPU ? "CPU" : "accelerator" }

    public var summary: String { "\(name) (\(typeName), \(platformName))" }

    public var description: String {
        """
        \(name) [\(typeName)] on \(platformName) (\(platformVersion))
            compute units \(computeUnits), global memory \(globalMemory >> 20) MiB, local memory \(localMemory >> 10) KiB, \
        max allocation \(maxAllocation >> 20) MiB, max work-group \(maxWorkGroupSize), preferred float vector \(preferredVectorWidth), \
        \(hasHardwareFMA ? "fused multiply-add, " : "")\(openCLCVersion), driver \(driverVersion)
        """
    }

    /// Every device of every platform, in platform order. Throws `.noPlatform` when there is none.
    public static func all() throws(OpenCLError) -> [OpenCLDevice] {
        discoveryLock.lock()
        defer { discoveryLock.unlock() }
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        guard status == CL_SUCCESS || status == -1001, count > 0 else { throw .noPlatform }
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        try check(clGetPlatformIDs(count, &platforms, nil), "clGetPlatformIDs")
        var devices: [OpenCLDevice] = []
        for case let platform? in platforms {
            var n: cl_uint = 0
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n) == CL_SUCCESS, n > 0 else { continue }
            var ids = [cl_device_id?](repeating: nil, count: Int(n))
            try check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil), "clGetDeviceIDs")
            for case let id? in ids { devices.append(try OpenCLDevice(id: id, platform: platform)) }
        }
        return devices
    }

    /// The device a selector names: an index into `all()`, or a case-insensitive part of a
    /// name; nil prefers the first GPU, else the first device.
    public static func select(_ selector: String?) throws(OpenCLError) -> OpenCLDevice {
        let devices = try all()
        guard let first = devices.first else { throw .noPlatform }
        guard let selector, !selector.isEmpty else { return devices.first(where: \.isGPU) ?? first }
        if let index = Int(selector) {
            guard devices.indices.contains(index) else { throw .noSuchDevice(requested: selector, available: devices) }
            return devices[index]
        }
        let wanted = selector.lowercased()
        guard let match = devices.first(where: { $0.name.lowercased().contains(wanted) || $0.platformName.lowercased().contains(wanted) }) else {
            throw .noSuchDevice(requested: selector, available: devices)
        }
        return match
    }

    init(id: cl_device_id, platform: cl_platform_id) throws(OpenCLError) {
        self.id = id
        self.platform = platform
        platformName = try Self.platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
        platformVersion = try Self.platformString(platform, cl_platform_info(CL_PLATFORM_VERSION))
        name = try Self.string(id, cl_device_info(CL_DEVICE_NAME))
        vendor = try Self.string(id, cl_device_info(CL_DEVICE_VENDOR))
        driverVersion = try Self.string(id, cl_device_info(CL_DRIVER_VERSION))
        openCLCVersion = try Self.string(id, cl_device_info(CL_DEVICE_OPENCL_C_VERSION))
        let type: cl_device_type = try Self.value(id, cl_device_info(CL_DEVICE_TYPE))
        isGPU = type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0
        isCPU = type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0
        computeUnits = Int(try Self.value(id, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS)) as cl_uint)
        globalMemory = try Self.value(id, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE))
        localMemory = try Self.value(id, cl_device_info(CL_DEVICE_LOCAL_MEM_SIZE))
        maxAllocation = try Self.value(id, cl_device_info(CL_DEVICE_MAX_MEM_ALLOC_SIZE))
        maxWorkGroupSize = Int(try Self.value(id, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE)) as Int)
        preferredVectorWidth = Int(try Self.value(id, cl_device_info(CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT)) as cl_uint)
        let fp: cl_device_fp_config = try Self.value(id, cl_device_info(CL_DEVICE_SINGLE_FP_CONFIG))
        hasHardwareFMA = fp & cl_device_fp_config(CL_FP_FMA) != 0
    }

    /// A string property through OpenCL's two-call pattern: ask the size, then the bytes.
    private static func infoString(_ name: String, _ get: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int) throws(OpenCLError) -> String {
        var size = 0
        try check(get(0, nil, &size), name)
        var bytes = [CChar](repeating: 0, count: size + 1)
        try check(bytes.withUnsafeMutableBytes { get(size, $0.baseAddress, nil) }, name)
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingSpaces()
    }

    private static func string(_ id: cl_device_id, _ info: cl_device_info) throws(OpenCLError) -> String {
        try infoString("clGetDeviceInfo") { clGetDeviceInfo(id, info, $0, $1, $2) }
    }

    private static func platformString(_ id: cl_platform_id, _ info: cl_platform_info) throws(OpenCLError) -> String {
        try infoString("clGetPlatformInfo") { clGetPlatformInfo(id, info, $0, $1, $2) }
    }

    private static func value<T: BitwiseCopyable>(_ id: cl_device_id, _ info: cl_device_info) throws(OpenCLError) -> T {
        var result = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
        try check(clGetDeviceInfo(id, info, result.count, &result, nil), "clGetDeviceInfo")
        return result.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
