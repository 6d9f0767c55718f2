/// The extent of a tensor along each dimension, outermost first (row-major storage).
///
/// Matrices are `[rows, columns]`; a vector is `[n]`; a scalar is `[1]`.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
    public var dimensions: [Int]

    public init(_ dimensions: Int...) { self.dimensions = dimensions }
    public init(_ dimensions: [Int]) { self.dimensions = dimensions }

    public static let scalar = Shape(1)

    /// The number of elements.
    public var count: Int { dimensions.reduce(1, *) }
    /// The number of elements, or nil when an extent is negative or the product overflows.
    public var checkedCount: Int? {
        var total = 1
        for d in dimensions {
            guard d >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            total = product
        }
        return total
    }
    public var rank: Int { dimensions.count }
    /// The outermost extent (the batch or row count of a matrix).
    public var rows: Int { dimensions.first ?? 1 }
    /// The product of all but the outermost extent (the row length of a matrix).
    public var columns: Int { dimensions.dropFirst().reduce(1, *) }

    public var description: String { "[" + dimensions.map(String.init).joined(separator: "×") + "]" }
}

/// Element types a buffer can hold. Both are 4 bytes wide.
public enum DType: String, Hashable, Sendable {
    case float32 = "F32"
    case int32 = "I32"
    /// Bytes: a training table of at most 256 distinct values (see `Op.gatherPalette`).
    case uint8 = "U8"

    public var byteSize: Int { self == .uint8 ? 1 : 4 }
}

/// Shape and element type of a tensor: everything needed to allocate it.
public struct TensorSpec: Hashable, Sendable, CustomStringConvertible {
    public var shape: Shape
    public var dtype: DType

    public init(_ shape: Shape, _ dtype: DType = .float32) {
        self.shape = shape
        self.dtype = dtype
    }

    public var count: Int { shape.count }
    public var byteCount: Int { shape.count * dtype.byteSize }
    /// `byteCount`, or nil when it does not fit an Int.
    public var checkedByteCount: Int? {
        shape.checkedCount.flatMap { let (b, o) = $0.multipliedReportingOverflow(by: dtype.byteSize); return o ? nil : b }
    }
    public var description: String { dtype == .float32 ? shape.description : "\(shape) \(dtype.rawValue)" }
}
