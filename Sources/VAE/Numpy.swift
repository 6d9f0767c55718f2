import Foundation

/// The NumPy .npy format (version 1.0): magic, a Python-dict header padded to 64 bytes, then
/// little-endian data. `numpy.load` reads it.
public enum NumpyFile {
    public static func encode(_ values: [Float], shape: [Int]) -> Data {
        var data = header(descr: "<f4", shape: shape)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    public static func encode(_ values: [UInt8], shape: [Int]) -> Data {
        header(descr: "|u1", shape: shape) + Data(values)
    }

    /// Integers (labels) as unsigned bytes when they all fit, else as int64.
    public static func encode(_ values: [Int], shape: [Int]) -> Data {
        if values.allSatisfy({ (0...255).contains($0) }) { return encode(values.map { UInt8($0) }, shape: shape) }
        var data = header(descr: "<i8", shape: shape)
        for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func header(descr: String, shape: [Int]) -> Data {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        // magic (6) + version (2) + length (2) + text + newline is a multiple of 64.
        while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(text.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(text.utf8))
        return data
    }

    public static func write(_ data: Data, to path: String) throws(FileError) { try writeAtomically(data, to: path) }
}

/// Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9),
/// for latent-plane grids.
public func normalQuantile(_ p: Double) -> Double {
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let low = 0.02425
    if p < low {
        let q = (-2 * log(p)).squareRoot()
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    if p > 1 - low { return -normalQuantile(1 - p) }
    let q = p - 0.5, r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
}

/// Points from a to b: linear, or spherical (slerp, along the great circle, which keeps the norm
/// typical of a Gaussian prior); `steps` ≥ 2 includes both ends.
public func interpolate(_ a: [Float], _ b: [Float], steps: Int, spherical: Bool) -> [[Float]] {
    let n = max(steps, 2)
    let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    let na = a.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot(), nb = b.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
    let omega = acos(max(-1, min(1, dot / max(na * nb, 1e-12))))
    return (0..<n).map { i in
        let t = Double(i) / Double(n - 1)
        let (wa, wb): (Double, Double) = spherical && sin(omega) > 1e-6
            ? (sin((1 - t) * omega) / sin(omega), sin(t * omega) / sin(omega)) : (1 - t, t)
        return zip(a, b).map { Float(wa * Double($0) + wb * Double($1)) }
    }
}
