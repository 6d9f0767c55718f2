import COpenCL
import Engine

// Each OpenCL handle is wrapped once in a class that releases it. The handles are used only
// through their owning backend, which is not Sendable, so no handle crosses threads.

/// A device buffer.
final class CLBuffer: DeviceBuffer {
    let mem: cl_mem
    let byteCount: Int

    init(mem: cl_mem, byteCount: Int) {
        self.mem = mem
        self.byteCount = byteCount
    }

    deinit { clReleaseMemObject(mem) }
}

final class CLKernel {
    let handle: cl_kernel
    init(_ handle: cl_kernel) { self.handle = handle }
    deinit { clReleaseKernel(handle) }
}

final class CLProgram {
    let handle: cl_program
    init(_ handle: cl_program) { self.handle = handle }
    deinit { clReleaseProgram(handle) }
}

final class CLContext {
    let context: cl_context
    let queue: cl_command_queue

    init(device: cl_device_id) throws(OpenCLError) {
        var status: cl_int = 0
        var device: cl_device_id? = device
        guard let context = clCreateContext(nil, 1, &device, nil, nil, &status), status == CL_SUCCESS else {
            throw .call("clCreateContext", status)
        }
        guard let queue = clCreateCommandQueue(context, device, 0, &status), status == CL_SUCCESS else {
            clReleaseContext(context)
            throw .call("clCreateCommandQueue", status)
        }
        self.context = context
        self.queue = queue
    }

    deinit {
        clFinish(queue)
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }
}

