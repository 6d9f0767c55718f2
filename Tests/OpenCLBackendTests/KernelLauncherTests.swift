import Foundation
@testable import OpenCLBackend
import Testing

/// Every `__kernel` has exactly one launcher of the same name, in the Swift file named after
/// its .cl file, and every launcher a kernel: checked against the built program and the sources.
@Suite struct KernelLauncherTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["cpu", "gpu"])
    func builtProgramHoldsExactlyTheKernelsThatHaveLaunchers(_ configuration: String) throws {
        let device = try openCL().device
        let backend = try OpenCLBackend(device: device, tiles: configuration == "cpu" ? .cpu : .gpu)
        let built = try backend.programKernelNames()
        let known = Set(Kernel.allCases.map(\.rawValue))
        #expect(built.subtracting(known).sorted() == [], "kernels without a launcher")
        #expect(known.subtracting(built).sorted() == [], "launchers without a kernel")
    }

    @Test func eachKernelIsEnqueuedOnlyByItsNamesakeInTheFileMirroringItsKernelFile() throws {
        // kernel name → the .cl file that defines it
        var definedIn: [String: String] = [:]
        let kernelDir = Self.root.appendingPathComponent("Kernels")
        for file in try FileManager.default.contentsOfDirectory(atPath: kernelDir.path) where file.hasSuffix(".cl") {
            let text = try String(contentsOf: kernelDir.appendingPathComponent(file), encoding: .utf8)
            for name in Self.matches(of: #"__kernel\s+(?:__attribute__\(\(.*?\)\)\s*)?void\s+([A-Za-z0-9_]+)\s*\("#, in: text) {
                #expect(definedIn[name] == nil, "\(name) is defined in both \(definedIn[name] ?? "") and \(file)")
                definedIn[name] = file
            }
        }
        #expect(Set(definedIn.keys) == Set(Kernel.allCases.map(\.rawValue)), "Kernels/ against the Kernel enum")

        var launchedBy: [String: String] = [:]  // kernel → "file: func"
        let sourceDir = Self.root.appendingPathComponent("Sources/OpenCLBackend")
        for file in try FileManager.default.contentsOfDirectory(atPath: sourceDir.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: sourceDir.appendingPathComponent(file), encoding: .utf8)
            var currentFunction = ""
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
                if let name = Self.matches(of: #"func\s+([A-Za-z0-9_]+)\s*\("#, in: line).first { currentFunction = name }
                for kernel in Self.matches(of: #"enqueue\(\.([A-Za-z0-9_]+)"#, in: line) {
                    #expect(launchedBy[kernel] == nil, "\(kernel) is enqueued twice: \(launchedBy[kernel] ?? "") and \(file): \(currentFunction)")
                    launchedBy[kernel] = "\(file): \(currentFunction)"
                    #expect(currentFunction == kernel, "\(kernel) is enqueued by \(currentFunction) in \(file), not by its namesake")
                    let mirror = definedIn[kernel].map { $0.dropLast(3).prefix(1).uppercased() + $0.dropLast(3).dropFirst() + "Launchers.swift" }
                    #expect(file == mirror, "\(kernel)'s launcher is in \(file), expected \(mirror ?? "?")")
                }
            }
        }
        #expect(Set(launchedBy.keys) == Set(Kernel.allCases.map(\.rawValue)), "kernels that no launcher enqueues")
    }

    private static func matches(of pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: .dotMatchesLineSeparators) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }
}
