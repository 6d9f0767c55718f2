import Engine
@testable import OpenCLBackend
import Testing

@Suite struct OpenCLDeviceTests {
    @Test func devicesAreListedWithTheirLimits() throws {
        let devices = try OpenCLDevice.all()
        #expect(!devices.isEmpty)
        for d in devices {
            #expect(!d.name.isEmpty && !d.platformName.isEmpty)
            #expect(d.computeUnits > 0 && d.globalMemory > 0 && d.maxAllocation > 0 && d.maxWorkGroupSize > 0)
            #expect(d.openCLCVersion.hasPrefix("OpenCL C"))
            #expect(d.description.contains("compute units"))
        }
    }

    @Test func unknownDeviceSelectorListsTheDevices() throws {
        let devices = try OpenCLDevice.all()
        for selector in ["\(devices.count + 3)", "no-such-device-xyz"] {
            let error = #expect(throws: OpenCLError.self) { try OpenCLDevice.select(selector) }
            let message = error?.description ?? ""
            #expect(message.contains(selector))
            #expect(message.contains(devices[0].name))
        }
        #expect(try OpenCLDevice.select("0").name == devices[0].name)
        #expect(try OpenCLDevice.select(String(devices[0].name.prefix(6)).uppercased()).name == devices[0].name)
    }

    @Test func secondBackendLoadsTheCachedKernelBinary() throws {
        _ = try openCL()
        let second = try openCL()
        #expect(second.loadedCachedKernels)
    }

    @Test func kernelThatFailsToBuildReportsTheBuildLog() throws {
        let device = try OpenCLDevice.select(nil)
        let context = try CLContext(device: device.id)
        var builder = ProgramBuilder(context: context.context, device: device)
        let error = #expect(throws: OpenCLError.self) {
            try builder.build(source: "__kernel void broken(__global float* y) { y[0] = undefined_name; }", options: "")
        }
        let message = error?.description ?? ""
        #expect(message.contains("failed to build"))
        #expect(message.contains("undefined_name"))
    }

    @Test func refusedAllocationNamesTheSizeAndTheLimits() throws {
        let backend = try openCL()
        let tooBig = Int(backend.device.maxAllocation) * 4 + 4096
        let error = #expect(throws: OpenCLError.self) { try backend.allocate(bytes: tooBig) }
        let message = error?.description ?? ""
        #expect(message.contains("\(tooBig) bytes"))
        #expect(message.contains("\(backend.device.maxAllocation) bytes per buffer"))
    }
}
