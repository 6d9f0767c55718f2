import COpenCL

/// What went wrong with OpenCL, in words a user can act on.
public enum OpenCLError: Error, CustomStringConvertible {
    /// The ICD loader found no platform: no driver is installed.
    case noPlatform
    /// A device index or name that matches no device; lists the devices there are.
    case noSuchDevice(requested: String, available: [OpenCLDevice])
    /// The device's compiler rejected a kernel source; carries its build log.
    case buildFailed(device: String, log: String)
    /// The device refused an allocation.
    case allocationFailed(bytes: Int, device: String, maxAllocation: UInt64, globalMemory: UInt64, code: Int32)
    /// Any other failing call, with the function and the error code's name.
    case call(String, Int32)
    case sizeTooLarge(what: String, value: Int)

    public var description: String {
        switch self {
        case .noPlatform:
            return """
                no OpenCL platform found (the ICD loader lists none in /etc/OpenCL/vendors). \
                Install a driver: `sudo apt-get install pocl-opencl-icd` runs OpenCL on the CPU, or install your \
                GPU vendor's OpenCL driver; `clinfo -l` should then list a device. Meanwhile `--backend cpu` works without OpenCL.
                """
        case .noSuchDevice(let requested, let available):
            let list = available.enumerated().map { "  \($0): \($1.summary)" }.joined(separator: "\n")
            return "no OpenCL device matches \"\(requested)\"; give an index or part of a name from:\n\(list)"
        case .buildFailed(let device, let log):
            return "the OpenCL kernels failed to build on \(device); the compiler said:\n\(log)"
        case .allocationFailed(let bytes, let device, let maxAllocation, let globalMemory, let code):
            return "\(device) refused to allocate \(bytes) bytes (\(codeName(code))); its limits are \(maxAllocation) bytes per buffer and \(globalMemory) bytes in all. Use a smaller batch or model, or --backend cpu."
        case .call(let function, let code):
            return "\(function) failed: \(codeName(code))"
        case .sizeTooLarge(let what, let value):
            return "\(what) of \(value) exceeds the 2³¹ − 1 elements the kernels index"
        }
    }
}

/// The name of an OpenCL error code.
func codeName(_ code: Int32) -> String {
    let names: [Int32: String] = [
        -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -3: "CL_COMPILER_NOT_AVAILABLE",
        -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
        -11: "CL_BUILD_PROGRAM_FAILURE", -30: "CL_INVALID_VALUE", -33: "CL_INVALID_DEVICE", -34: "CL_INVALID_CONTEXT",
        -36: "CL_INVALID_COMMAND_QUEUE", -38: "CL_INVALID_MEM_OBJECT", -42: "CL_INVALID_BINARY",
        -43: "CL_INVALID_BUILD_OPTIONS", -44: "CL_INVALID_PROGRAM", -45: "CL_INVALID_PROGRAM_EXECUTABLE",
        -46: "CL_INVALID_KERNEL_NAME", -48: "CL_INVALID_KERNEL", -49: "CL_INVALID_ARG_INDEX", -50: "CL_INVALID_ARG_VALUE",
        -51: "CL_INVALID_ARG_SIZE", -52: "CL_INVALID_KERNEL_ARGS", -54: "CL_INVALID_WORK_GROUP_SIZE",
        -55: "CL_INVALID_WORK_ITEM_SIZE", -61: "CL_INVALID_BUFFER_SIZE", -1001: "CL_PLATFORM_NOT_FOUND_KHR",
    ]
    return "\(names[code] ?? "OpenCL error") (\(code))"
}

/// Throws `.call` unless `code` is CL_SUCCESS.
@inline(__always)
func check(_ code: cl_int, _ function: @autoclosure () -> String) throws(OpenCLError) {
    guard code == CL_SUCCESS else { throw .call(function(), code) }
}
