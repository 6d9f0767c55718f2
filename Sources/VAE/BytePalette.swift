import Engine

/// A data set of at most 256 distinct values in [0, 1] (8-bit pictures, binarized data) as one
/// byte per value and the 256 floats they stand for: the trainer and evaluation hold such a
/// table on the device in a quarter of the memory and gather it with `Op.gatherPalette`, which
/// gives back exactly the floats of `Dataset.images`.
struct BytePalette {
    /// One byte per value of the data set, in its order.
    let bytes: [UInt8]
    /// palette[b] is the value byte b stands for (0 where no value uses b).
    let palette: [Float]

    /// The data's values as bytes, or nil when they are not all of the form palette[k] with
    /// k = round(255·v) for one float per k (values outside [0, 1], NaN, more than 256 values,
    /// or two floats that round to the same k). One pass over the values, no hashing.
    init?(_ values: [Float]) {
        var palette = [Float](repeating: .nan, count: 256)
        var bytes = [UInt8](repeating: 0, count: values.count)
        let fits = values.withUnsafeBufferPointer { v in
            bytes.withUnsafeMutableBufferPointer { out in
                palette.withUnsafeMutableBufferPointer { p in
                    for i in 0..<v.count {
                        let x = v[i]
                        guard x >= 0, x <= 1 else { return false }  // also NaN
                        let k = Int((x * 255).rounded())
                        if p[k].bitPattern != x.bitPattern {
                            guard p[k].isNaN else { return false }
                            p[k] = x
                        }
                        out[i] = UInt8(k)
                    }
                    return true
                }
            }
        }
        guard fits else { return nil }
        self.bytes = bytes
        self.palette = palette.map { $0.isNaN ? 0 : $0 }
    }
}

/// A data set's copy on the device in a graph: the table (bytes and a palette when the values
/// allow it, else floats) and the batch gathered from it at the run's cursor.
struct DeviceTable {
    let table: Graph.Tensor
    let palette: Graph.Tensor?
    /// The batch: `batch` rows of the table, those listed in `order` from the run's cursor on.
    let x: Graph.Tensor
    private let bytes: BytePalette?

    /// Inputs "data" [rows, exampleSize] (uint8 with `bytes`, else float32) and, with `bytes`,
    /// "data.palette" [256]; x gathers `batch` rows through `order`.
    init(in g: Graph, rows: Int, exampleSize: Int, bytes: BytePalette?, order: Graph.Tensor, batch: Int) throws {
        self.bytes = bytes
        table = try g.input("data", Shape(rows, exampleSize), bytes == nil ? .float32 : .uint8)
        if bytes != nil {
            let palette = try g.input("data.palette", Shape(256))
            self.palette = palette
            x = try g.apply(.gatherPalette(rows: batch), [table, order, palette])[0]
        } else {
            palette = nil
            x = try g.gather(table, indices: order, rows: batch)
        }
    }

    /// Uploads the whole data set: its bytes and palette, or `values` (its floats).
    func upload(_ values: [Float], to executor: Executor) throws {
        if let bytes, let palette {
            try executor.setValue(bytes.bytes, for: table)
            try executor.setValue(bytes.palette, for: palette)
        } else {
            try executor.setValue(values, for: table)
        }
    }
}
