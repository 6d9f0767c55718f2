import Foundation
import Testing
@testable import VAE

@Suite struct CheckpointTests {
    @Test func safetensorsRoundTrip() throws {
        var c = Checkpoint(metadata: ["format": "x", "note": "ünïcode"])
        c.set("b", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        c.set("a", shape: [1], values: [-0.5])
        c.set("empty", shape: [0], values: [])
        let path = try temporaryDirectory() + "/c.safetensors"
        try c.write(to: path)
        let back = try Checkpoint(contentsOf: path)
        #expect(back.metadata == c.metadata)
        #expect(back["b"] == c["b"] && back["a"] == c["a"] && back["empty"] == c["empty"])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + headerLength) % 8 == 0)
    }

    /// Python reads the file as safetensors specifies (NumPy only, as CI has it).
    @Test func numpyReadsTheCheckpoint() throws {
        var c = Checkpoint(metadata: ["format": "swift-vae/1"])
        c.set("w", shape: [2, 2], values: [1, 2, 3, 4.5])
        let path = try temporaryDirectory() + "/c.safetensors"
        try c.write(to: path)
        let script = """
            import json, struct, sys, numpy as np
            raw = open(sys.argv[1], 'rb').read()
            n = struct.unpack('<Q', raw[:8])[0]
            h = json.loads(raw[8:8 + n])
            s, e = h['w']['data_offsets']
            w = np.frombuffer(raw[8 + n + s:8 + n + e], dtype='<f4').reshape(h['w']['shape'])
            assert h['w']['dtype'] == 'F32' and h['__metadata__']['format'] == 'swift-vae/1'
            print(float(w.sum()), w.shape)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(output.contains("10.5 (2, 2)"))
    }

    @Test func brokenCheckpointsAreReportedByName() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/c.safetensors"
        func attempt(_ bytes: [UInt8]) -> CheckpointError? {
            do { _ = try Checkpoint(parsing: bytes, path: path); return nil } catch { return error }
        }
        func file(_ header: String, data: Int) -> [UInt8] {
            var h = Array(header.utf8)
            while h.count % 8 != 0 { h.append(0x20) }
            return (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xff) } + h + [UInt8](repeating: 0, count: data)
        }
        #expect(attempt([1, 2, 3])?.description.contains("truncated") == true)
        #expect(attempt([200, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d])?.description.contains("header claims 200 bytes") == true)
        #expect(attempt(file("{not json", data: 0))?.description.contains("does not parse") == true)
        #expect(attempt(file(#"{"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#, data: 2)) ==
            .unsupportedDType(path: path, tensor: "w", dtype: "F16"))
        #expect(attempt(file(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 8))?.description.contains("bytes 0..<16") == true)
        #expect(attempt(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: 12))?
            .description.contains("overlap") == true)
        #expect(attempt(file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8))?.description.contains("needs 12 bytes") == true)
        #expect(throws: CheckpointError.missing(path: dir + "/none")) { try Checkpoint(contentsOf: dir + "/none") }
    }
}
