import Foundation

/// A kernel configuration chosen by measuring on a device (`vae tune`): the structure, and for
/// the GPU structure the tiles of `gemm_tiled` (a work-group computes tm × tn of C in slices tk
/// deep, each work-item wm × wn of it). Stored per device and driver beside the kernel
/// binaries, in the same verified entry format, and used by every later backend on that device.
public struct KernelTuning: Codable, Equatable, Sendable, CustomStringConvertible {
    public var structure: KernelStructure
    public var tm = 0, tn = 0, tk = 0, wm = 0, wn = 0
    /// Floats per global load of `gemm_tiled`'s tiles: 1, 2 or 4.
    public var vw = 1

    public init(structure: KernelStructure, tm: Int = 0, tn: Int = 0, tk: Int = 0, wm: Int = 0, wn: Int = 0, vw: Int = 1) {
        (self.structure, self.tm, self.tn, self.tk, self.wm, self.wn, self.vw) = (structure, tm, tn, tk, wm, wn, vw)
    }

    public var description: String {
        structure == .cpu ? "cpu structure (register blocks)"
            : "gpu structure, gemm_tiled \(tm)×\(tn)×\(tk), \(wm)×\(wn) per work-item, loads of \(vw)"
    }

    var tiles: GEMMTiles? { structure == .gpu ? GEMMTiles(tm: tm, tn: tn, tk: tk, wm: wm, wn: wn, vw: vw) : nil }

    /// Whether `device` can run it: tiles divisible by the per-work-item block, the work-group
    /// and the local memory within the device's limits.
    public func fits(_ device: OpenCLDevice) -> Bool {
        guard let t = tiles else { return structure == .cpu }
        guard [t.tm, t.tn, t.tk, t.wm, t.wn].allSatisfy({ $0 > 0 }), t.tm % t.wm == 0, t.tn % t.wn == 0, [1, 2, 4].contains(t.vw),
              t.tm % t.vw == 0, t.tn % t.vw == 0, t.tk % t.vw == 0 else { return false }
        return t.workGroup[0] * t.workGroup[1] <= device.maxWorkGroupSize && UInt64(t.localBytes) <= device.localMemory
    }

    /// What `vae tune` tries on `device`, at most `limit` of them: the CPU structure, the GPU
    /// structure's default tiles, then square tiles of 16 to 128, 8 or 16 deep, with 2×2 to 8×8
    /// per work-item, loading 4 floats at a time or 1, that the device allows.
    public static func candidates(for device: OpenCLDevice, limit: Int = 24) -> [KernelTuning] {
        var list = [KernelTuning(structure: .cpu), standardGPU(for: device)]
        for tile in [64, 32, 128, 16] {
            for w in [4, 8, 2] {
                for tk in [16, 8] where tile >= 2 * w {
                    for vw in [4, 1] {
                        let c = KernelTuning(structure: .gpu, tm: tile, tn: tile, tk: tk, wm: w, wn: w, vw: vw)
                        if c.fits(device), !list.contains(c) { list.append(c) }
                    }
                }
            }
        }
        return Array(list.prefix(max(1, limit)))
    }

    /// The GPU structure with the tiles `TileConfiguration(gpuFor:)` gives `device`.
    static func standardGPU(for device: OpenCLDevice) -> KernelTuning {
        let g = GEMMTiles.fitting(device)
        return KernelTuning(structure: .gpu, tm: g.tm, tn: g.tn, tk: g.tk, wm: g.wm, wn: g.wn, vw: g.vw)
    }

    /// The GPU structure's standard tiles with the other load width (4 where the device prefers
    /// scalar floats, else 1), so that a check covers both forms of `gemm_tiled`'s loads.
    public static func standardGPUWithOtherLoads(for device: OpenCLDevice) -> KernelTuning {
        var t = standardGPU(for: device)
        t.vw = t.vw == 1 ? 4 : 1
        return t
    }

    /// The configuration `device` gets without tuning (that of `TileConfiguration(for:)`).
    public static func standard(for device: OpenCLDevice) -> KernelTuning {
        device.isCPU ? KernelTuning(structure: .cpu) : standardGPU(for: device)
    }

    /// The entry of `device` (its name, driver and platform version) in `directory` (default:
    /// the kernel cache folder).
    static func file(for device: OpenCLDevice, in directory: URL? = nil) -> URL {
        let key = fnv1a(["tuning-2", device.name, device.driverVersion, device.platformVersion].joined(separator: "\u{1}"))
        return (directory ?? ProgramBuilder.cacheDirectory).appendingPathComponent(String(format: "tuning-%016llx.json", key))
    }

    /// The tuned configuration stored for `device`, or nil with the reason when there is none or
    /// it is damaged or does not fit the device (a damaged entry is deleted).
    public static func stored(for device: OpenCLDevice, in directory: URL? = nil) -> (tuning: KernelTuning?, note: String?) {
        let file = file(for: device, in: directory)
        guard let data = try? Data(contentsOf: file) else { return (nil, nil) }
        switch CacheEntry.binary(from: data) {
        case .success(let json):
            if let tuning = try? JSONDecoder().decode(KernelTuning.self, from: json), tuning.fits(device) { return (tuning, nil) }
            try? FileManager.default.removeItem(at: file)
            return (nil, "the tuned kernel configuration \(file.path) does not fit \(device.name); deleted it (run `vae tune` again)")
        case .failure(let damage):
            try? FileManager.default.removeItem(at: file)
            return (nil, "the tuned kernel configuration \(file.path) was damaged (\(damage.text)); deleted it and used the defaults")
        }
    }

    /// Stores `self` as `device`'s tuned configuration; returns the file.
    public func store(for device: OpenCLDevice, in directory: URL? = nil) throws -> URL {
        let file = Self.file(for: device, in: directory)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let temporary = file.appendingPathExtension("tmp-\(getpid())")
        try CacheEntry.wrap(try encoder.encode(self)).write(to: temporary)
        guard rename(temporary.path, file.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
        }
        return file
    }

    /// Removes `device`'s tuned configuration, if any.
    public static func forget(for device: OpenCLDevice) {
        try? FileManager.default.removeItem(at: file(for: device))
    }
}

extension TileConfiguration {
    /// `tuning`'s configuration on `device`.
    init(_ tuning: KernelTuning, device: OpenCLDevice) {
        if let tiles = tuning.tiles {
            let g = TileConfiguration(gpuFor: device)
            self.init(nnRows: g.nnRows, local2D: g.local2D, local1D: g.local1D, polynomialMath: false, gemmTiles: tiles)
        } else {
            self = .cpu(for: device)
        }
    }
}
